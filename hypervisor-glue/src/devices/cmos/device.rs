//! A read-only MC146818 RTC: the time of day from the host clock (UTC, BCD, 24-hour), the
//! "update in progress" bit always clear, and zeroed CMOS RAM. Without it Linux's `rtc_cmos`
//! reads 0xff from a floating bus, sees an update that never ends and stalls the boot for
//! tens of seconds (QEMU's microvm shows the same without `rtc=on`). Writes to the clock are
//! accepted and ignored: a qube does not set the host's time.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::devices::{BusDevice, DeviceEvent};

/// Index port; the data port follows it.
pub const CMOS_PORT: u16 = 0x70;

const REG_SECONDS: u8 = 0x00;
const REG_MINUTES: u8 = 0x02;
const REG_HOURS: u8 = 0x04;
const REG_WEEKDAY: u8 = 0x06;
const REG_DAY: u8 = 0x07;
const REG_MONTH: u8 = 0x08;
const REG_YEAR: u8 = 0x09;
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
const REG_D: u8 = 0x0d;
const REG_CENTURY: u8 = 0x32;

/// 32.768 kHz time base, 1024 Hz periodic rate; UIP clear.
const REG_A_VALUE: u8 = 0x26;
/// 24-hour mode, BCD.
const REG_B_VALUE: u8 = 0x02;
/// Valid RAM and time.
const REG_D_VALUE: u8 = 0x80;

/// The RTC.
#[derive(Debug, Default)]
pub struct Cmos {
    index: u8,
}

fn bcd(v: u64) -> u8 {
    let v = u8::try_from(v % 100).unwrap_or(0);
    ((v / 10) << 4) | (v % 10)
}

/// Civil date (year, month 1–12, day 1–31) of a day count since 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm).
pub fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u64::try_from(month).unwrap_or(1),
        u64::try_from(day).unwrap_or(1),
    )
}

/// The register `index` at `unix_secs`.
pub fn register(index: u8, unix_secs: u64) -> u8 {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let secs_of_day = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let year = u64::try_from(year).unwrap_or(1970);
    match index {
        REG_SECONDS => bcd(secs_of_day % 60),
        REG_MINUTES => bcd(secs_of_day / 60 % 60),
        REG_HOURS => bcd(secs_of_day / 3600),
        // 1970-01-01 was a Thursday; the RTC counts Sunday as 1.
        REG_WEEKDAY => bcd((unix_secs / 86_400 + 4) % 7 + 1),
        REG_DAY => bcd(day),
        REG_MONTH => bcd(month),
        REG_YEAR => bcd(year % 100),
        REG_CENTURY => bcd(year / 100),
        REG_A => REG_A_VALUE,
        REG_B => REG_B_VALUE,
        REG_C => 0,
        REG_D => REG_D_VALUE,
        _ => 0,
    }
}

impl BusDevice for Cmos {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        let value = if offset == 1 {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            register(self.index, now)
        } else {
            self.index
        };
        data.fill(0);
        if let Some(b) = data.first_mut() {
            *b = value;
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        if offset == 0 {
            // Bit 7 is the NMI mask, not part of the index.
            self.index = data.first().copied().unwrap_or(0) & 0x7f;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn registers_in_bcd() {
        // 2024-02-29 13:45:56 UTC, a Thursday.
        let t = 1_709_214_356;
        assert_eq!(register(REG_SECONDS, t), 0x56);
        assert_eq!(register(REG_MINUTES, t), 0x45);
        assert_eq!(register(REG_HOURS, t), 0x13);
        assert_eq!(register(REG_DAY, t), 0x29);
        assert_eq!(register(REG_MONTH, t), 0x02);
        assert_eq!(register(REG_YEAR, t), 0x24);
        assert_eq!(register(REG_CENTURY, t), 0x20);
        assert_eq!(register(REG_WEEKDAY, t), 5);
        assert_eq!(register(REG_A, t) & 0x80, 0, "update never in progress");
    }

    #[test]
    fn index_then_data() {
        let mut c = Cmos::default();
        c.write(0x70, 0, &[0x80 | REG_D]);
        let mut b = [0u8];
        c.read(0x70, 1, &mut b);
        assert_eq!(b[0], REG_D_VALUE);
    }
}
