package ingest

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by Load. Test for them with errors.Is;
// the wrapping error's message names the document and gives the details.
var (
	// ErrUnsupported: the file's extension is not one Load knows how to read.
	ErrUnsupported = errors.New("unsupported file type")
	// ErrEmpty: the file has no bytes, or only whitespace, or no text after
	// markup was removed.
	ErrEmpty = errors.New("empty document")
	// ErrBinary: the file looks like binary data (a NUL byte, or mostly
	// control bytes and invalid UTF-8, in its first 8 KiB).
	ErrBinary = errors.New("binary content")
	// ErrInvalidUTF8: the file is text but not valid UTF-8. The error is an
	// *InvalidUTF8Error that gives the byte offset of the first bad sequence.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrTooLarge: the file is bigger than Loader.MaxBytes. The error is a
	// *TooLargeError; the file was not read.
	ErrTooLarge = errors.New("file too large")
	// ErrCorrupt: a document whose structure is broken: a PDF, DOCX or ODT
	// that is truncated, not the container its type needs (a DOCX that is
	// not a zip archive) or unreadable by its parser, or HTML nested
	// deeper than the HTML parser accepts.
	ErrCorrupt = errors.New("corrupt document")
	// ErrEncrypted: the document is encrypted and cannot be read without a
	// password.
	ErrEncrypted = errors.New("encrypted document")
	// ErrExpansion: a compressed document expands past
	// Loader.MaxExpandedBytes, or by a ratio no real document has (a zip
	// bomb). Its content was not decompressed beyond the limit.
	ErrExpansion = errors.New("document expands past the limit")
	// ErrChanged: the file changed (size or modification time) while Load
	// was reading it. Unlike the errors above it says nothing about the
	// content: loading it again later may succeed.
	ErrChanged = errors.New("file changed while it was read")
)

// InvalidUTF8Error reports where a file stops being valid UTF-8.
// errors.Is(err, ErrInvalidUTF8) is true for it.
type InvalidUTF8Error struct {
	// Offset is the byte offset, from the start of the file, of the first
	// byte of the first invalid sequence.
	Offset int64
	// Invalid is the number of bytes that are not part of valid UTF-8,
	// and Size the file's size; 0 when not counted.
	Invalid, Size int64
}

func (e *InvalidUTF8Error) Error() string {
	count := ""
	if e.Invalid > 0 && e.Size > 0 {
		count = fmt.Sprintf("; %d of %d bytes are invalid, too many to replace", e.Invalid, e.Size)
	}
	return fmt.Sprintf("%v at byte offset %d%s (name the encoding with --encoding, e.g. --encoding windows-1252, or convert the file to UTF-8, e.g. with iconv)",
		ErrInvalidUTF8, e.Offset, count)
}

// Is makes errors.Is(err, ErrInvalidUTF8) true.
func (e *InvalidUTF8Error) Is(target error) bool { return target == ErrInvalidUTF8 }

// TooLargeError reports a file over the size limit.
// errors.Is(err, ErrTooLarge) is true for it.
type TooLargeError struct {
	Size  int64 // the file's size in bytes
	Limit int64 // Loader.MaxBytes in force
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%v: %d bytes (%s) is over the limit of %d bytes (%s); --max-file-size raises it",
		ErrTooLarge, e.Size, humanBytes(e.Size), e.Limit, humanBytes(e.Limit))
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// humanBytes formats n with a binary unit, e.g. "32 MiB" or "1.5 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
	if n%div == 0 {
		return fmt.Sprintf("%d %s", n/div, suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
