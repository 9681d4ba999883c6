package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// maxInvalidPercent is how much of a file (in bytes) may be invalid UTF-8
// for the bad sequences to be replaced with U+FFFD; above it, the file is
// not taken for UTF-8 text (unless it reads as Latin-1).
const maxInvalidPercent = 1

// lookupEncoding returns the encoding named by a WHATWG label
// ("windows-1252", "latin1", "utf-16le", "shift_jis", ...).
func lookupEncoding(label string) (encoding.Encoding, string, error) {
	e, name := charset.Lookup(label)
	if e == nil {
		return nil, "", fmt.Errorf("unknown character encoding %q (use a WHATWG label such as utf-8, windows-1252, iso-8859-15, utf-16le, shift_jis)", label)
	}
	return e, name, nil
}

// decodeText returns the text document src as UTF-8 without a byte order
// mark, or ErrEmpty, ErrBinary or an *InvalidUTF8Error. The encoding is,
// in order: Loader.Encoding; a UTF-16 or UTF-8 byte order mark; for HTML
// a charset declaration (meta charset, http-equiv Content-Type, XML
// declaration; golang.org/x/net/html/charset); UTF-16 recognised by its
// NUL bytes; else UTF-8, with invalid bytes replaced when they are at most
// 1% of the file; else Windows-1252 (a superset of Latin-1's printable
// characters) when the file reads as such: no valid multi-byte UTF-8
// sequence, and no byte that would start one followed by a continuation
// byte (UTF-8 cut short or damaged).
func (l Loader) decodeText(ft format, src []byte) ([]byte, error) {
	size := len(src)
	var enc encoding.Encoding
	switch {
	case l.Encoding != "":
		e, name, err := lookupEncoding(l.Encoding)
		if err != nil {
			return nil, err
		}
		if name == "utf-8" {
			return checkUTF8(bytes.TrimPrefix(src, utf8BOM), size, false)
		}
		enc = e
	case bytes.HasPrefix(src, utf8BOM):
		return checkUTF8(src[len(utf8BOM):], size, false)
	default:
		if order, ok := utf16Order(src); ok {
			enc = unicode.UTF16(order, unicode.UseBOM)
		} else if ft.mediaType == MediaHTML {
			enc = declaredHTMLCharset(src)
		}
	}
	if enc == nil {
		return checkUTF8(src, size, true)
	}
	out, err := enc.NewDecoder().Bytes(src)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decode the text: %v", ErrBinary, err)
	}
	out = bytes.TrimPrefix(out, utf8BOM)
	if err := sniffBinary(out); err != nil {
		return nil, err
	}
	return out, checkWhitespace(out, size)
}

var utf8BOM = []byte("\xef\xbb\xbf")

// checkUTF8 applies the binary check, then the UTF-8 rules of decodeText
// (with latin1, the Windows-1252 fallback).
func checkUTF8(src []byte, size int, latin1 bool) ([]byte, error) {
	if err := sniffBinary(src); err != nil {
		return nil, err
	}
	if !utf8.Valid(src) {
		first, invalid, multi, cut := utf8Stats(src)
		switch {
		case latin1 && multi == 0 && !cut && plausibleLatin1(src):
			out, err := charmap.Windows1252.NewDecoder().Bytes(src)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBinary, err)
			}
			src = out
		case invalid*100 <= len(src)*maxInvalidPercent:
			src = bytes.ToValidUTF8(src, []byte("\uFFFD"))
		default:
			return nil, &InvalidUTF8Error{Offset: int64(first + size - len(src)), Invalid: int64(invalid), Size: int64(size)}
		}
	}
	return src, checkWhitespace(src, size)
}

// utf8Stats counts, in text that is not valid UTF-8, the bytes outside
// valid sequences and the valid multi-byte sequences, gives the offset of
// the first invalid byte, and tells whether a byte that starts a
// multi-byte sequence is followed by a continuation byte somewhere (a
// sign of UTF-8 rather than a single-byte charset).
func utf8Stats(src []byte) (first, invalid, multi int, cut bool) {
	first = -1
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			if first < 0 {
				first = i
			}
			invalid++
			if src[i] >= 0xc2 && i+1 < len(src) && src[i+1]&0xc0 == 0x80 {
				cut = true
			}
			if src[i] >= 0xc2 && src[i] <= 0xf4 && i+1 == len(src) {
				cut = true // a sequence cut by the end of the file
			}
		} else {
			multi++
		}
		i += size
	}
	return first, invalid, multi, cut
}

// plausibleLatin1 reports whether the bytes over 0x7F of src read as
// Windows-1252 text: none of the five bytes it leaves undefined, and no
// word of two or more letters made only of such bytes (in Western
// European text they sit inside words of ASCII letters, "Grüße", or stand
// alone, "à").
func plausibleLatin1(src []byte) bool {
	high, ascii := 0, false // letters over 0x7F and ASCII letters in the current word
	for _, b := range src {
		switch {
		case b == 0x81 || b == 0x8d || b == 0x8f || b == 0x90 || b == 0x9d:
			return false
		case b >= 0xc0 && b != 0xd7 && b != 0xf7:
			high++
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
			ascii = true
		default: // the end of a word
			if high >= 2 && !ascii {
				return false
			}
			high, ascii = 0, false
		}
	}
	return high < 2 || ascii
}

// utf16Order recognises UTF-16 by a byte order mark, or, without one, by
// the NUL bytes that text in a Latin script has in every other position.
func utf16Order(src []byte) (unicode.Endianness, bool) {
	switch {
	case bytes.HasPrefix(src, []byte{0xff, 0xfe}) && !bytes.HasPrefix(src, []byte{0xff, 0xfe, 0, 0}):
		return unicode.LittleEndian, true
	case bytes.HasPrefix(src, []byte{0xfe, 0xff}):
		return unicode.BigEndian, true
	}
	head := src[:min(len(src), sniffLen)&^1]
	if len(head) < 8 {
		return unicode.BigEndian, false
	}
	var zeroEven, zeroOdd, pairs int
	for i := 0; i+1 < len(head); i += 2 {
		pairs++
		if head[i] == 0 {
			zeroEven++
		}
		if head[i+1] == 0 {
			zeroOdd++
		}
	}
	// Mostly ASCII characters, each a zero byte and a printable one.
	ascii := func(order binary.ByteOrder) bool {
		n := 0
		for i := 0; i+1 < len(head); i += 2 {
			if c := order.Uint16(head[i:]); c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' {
				n++
			}
		}
		return n*10 >= pairs*7
	}
	switch {
	case zeroOdd*10 >= pairs*7 && zeroEven*20 < pairs && ascii(binary.LittleEndian):
		return unicode.LittleEndian, true
	case zeroEven*10 >= pairs*7 && zeroOdd*20 < pairs && ascii(binary.BigEndian):
		return unicode.BigEndian, true
	}
	return unicode.BigEndian, false
}

// xmlDecl matches an XML declaration's encoding (XHTML).
var xmlDecl = regexp.MustCompile(`^\s*<\?xml[^>]*\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']`)

// declaredHTMLCharset returns the encoding an HTML document declares in its
// first KiB (meta charset, http-equiv Content-Type, or an XML
// declaration), or nil when it declares none or UTF-8 (then the UTF-8
// rules apply).
func declaredHTMLCharset(src []byte) encoding.Encoding {
	head := src[:min(len(src), 1024)]
	if m := xmlDecl.FindSubmatch(head); m != nil {
		if e, name := charset.Lookup(string(m[1])); e != nil && name != "utf-8" {
			return e
		}
	}
	// DetermineEncoding falls back to Windows-1252 for content that is not
	// UTF-8: hide the non-ASCII bytes so that only a declaration counts.
	masked := make([]byte, len(head))
	for i, b := range head {
		if b >= utf8.RuneSelf {
			b = 'x'
		}
		masked[i] = b
	}
	e, name, _ := charset.DetermineEncoding(masked, "")
	if name == "utf-8" {
		return nil
	}
	return e
}
