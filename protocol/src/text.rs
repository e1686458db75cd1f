//! Wire forms of the length-prefixed fields: strings (`u16` length) and long text and
//! blobs (`u32` length). Lengths are checked against their limit before any copy; content
//! rules live in [`crate::limits`].

use crate::error::MalformedReason;
use crate::limits::{
    MAX_APP_ID_BYTES, MAX_CLIPBOARD_BYTES, MAX_KEYMAP_BYTES, MAX_LAUNCH_ARG_BYTES, MAX_LAUNCH_ARGS,
    MAX_MIME_BYTES, MAX_TITLE_BYTES,
};
use crate::wire::{Reader, Writer};

fn utf8(bytes: &[u8], field: &'static str) -> Result<String, MalformedReason> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(MalformedReason::InvalidUtf8 { field }),
    }
}

fn title_too_long(len: usize) -> MalformedReason {
    MalformedReason::TitleTooLong { len }
}

fn app_id_too_long(len: usize) -> MalformedReason {
    MalformedReason::AppIdTooLong { len }
}

fn mime_too_long(len: usize) -> MalformedReason {
    MalformedReason::MimeTooLong { len }
}

fn keymap_too_long(len: usize) -> MalformedReason {
    MalformedReason::KeymapTooLong { len }
}

fn clipboard_too_long(len: usize) -> MalformedReason {
    MalformedReason::ClipboardTooLong { len }
}

pub(crate) fn read_title(r: &mut Reader<'_>) -> Result<String, MalformedReason> {
    utf8(r.short_bytes(MAX_TITLE_BYTES, title_too_long)?, "title")
}

pub(crate) fn write_title(w: &mut Writer<'_>, title: &str) {
    w.short_bytes(title.as_bytes(), MAX_TITLE_BYTES, title_too_long);
}

pub(crate) fn read_app_id(r: &mut Reader<'_>) -> Result<String, MalformedReason> {
    utf8(r.short_bytes(MAX_APP_ID_BYTES, app_id_too_long)?, "app id")
}

pub(crate) fn write_app_id(w: &mut Writer<'_>, app_id: &str) {
    w.short_bytes(app_id.as_bytes(), MAX_APP_ID_BYTES, app_id_too_long);
}

pub(crate) fn read_mime(r: &mut Reader<'_>) -> Result<String, MalformedReason> {
    utf8(r.short_bytes(MAX_MIME_BYTES, mime_too_long)?, "MIME type")
}

pub(crate) fn write_mime(w: &mut Writer<'_>, mime: &str) {
    w.short_bytes(mime.as_bytes(), MAX_MIME_BYTES, mime_too_long);
}

pub(crate) fn read_keymap(r: &mut Reader<'_>) -> Result<String, MalformedReason> {
    utf8(r.long_bytes(MAX_KEYMAP_BYTES, keymap_too_long)?, "keymap")
}

pub(crate) fn write_keymap(w: &mut Writer<'_>, text: &str) {
    w.long_bytes(text.as_bytes(), MAX_KEYMAP_BYTES, keymap_too_long);
}

pub(crate) fn read_clipboard(r: &mut Reader<'_>) -> Result<Vec<u8>, MalformedReason> {
    Ok(r.long_bytes(MAX_CLIPBOARD_BYTES, clipboard_too_long)?
        .to_vec())
}

pub(crate) fn write_clipboard(w: &mut Writer<'_>, data: &[u8]) {
    w.long_bytes(data, MAX_CLIPBOARD_BYTES, clipboard_too_long);
}

fn arg_too_long(len: usize) -> MalformedReason {
    MalformedReason::ArgTooLong { len }
}

fn too_many_args(count: u32) -> MalformedReason {
    MalformedReason::TooManyArgs { count }
}

/// A command line: a `u32` count (checked before anything is allocated), then each argument
/// as a string.
pub(crate) fn read_argv(r: &mut Reader<'_>) -> Result<Vec<String>, MalformedReason> {
    let count = r.u32()?;
    let len = usize::try_from(count).unwrap_or(usize::MAX);
    if len > MAX_LAUNCH_ARGS {
        return Err(too_many_args(count));
    }
    let mut argv = Vec::with_capacity(len);
    for _ in 0..len {
        argv.push(utf8(
            r.short_bytes(MAX_LAUNCH_ARG_BYTES, arg_too_long)?,
            "argument",
        )?);
    }
    Ok(argv)
}

pub(crate) fn write_argv(w: &mut Writer<'_>, argv: &[String]) {
    w.count(argv.len(), MAX_LAUNCH_ARGS, too_many_args);
    for arg in argv {
        w.short_bytes(arg.as_bytes(), MAX_LAUNCH_ARG_BYTES, arg_too_long);
    }
}
