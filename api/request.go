package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/api/jsonscan"
)

// errEmptyBody is returned for a request without a body.
var errEmptyBody = invalid("request body is empty; expected a JSON object")

// maxNameLength matches the CHECK on reservations.name.
const maxNameLength = 200

// maxEcho is how many characters of client input an error message or a log
// line repeats: enough to recognize a typo, too few to turn a 1 MB path
// into a 1 MB answer or log line.
const maxEcho = 100

// clip cuts client input to maxEcho characters, marking a cut with "…",
// for logs (whose handler quotes it).
func clip(s string) string {
	cut, more := cutRunes(s, maxEcho)
	if more {
		return cut + "…"
	}
	return cut
}

// echo quotes client input for an error message, clipped like clip; the
// mark goes outside the quotes so that it cannot pass for input.
func echo(s string) string {
	cut, more := cutRunes(s, maxEcho)
	if more {
		return strconv.Quote(cut) + "…"
	}
	return strconv.Quote(cut)
}

// cutRunes returns the first n characters of s and whether there were more.
// Invalid UTF-8 counts a byte as a character, as range does.
func cutRunes(s string, n int) (string, bool) {
	for i := range s {
		if n == 0 {
			return s[:i], true
		}
		n--
	}
	return s, false
}

// pathID parses a path segment as a positive 64-bit id.
func pathID(r *http.Request, name string) (int64, error) {
	raw := r.PathValue(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	// One spelling per id: "+1" and "01" are not ids.
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return 0, invalid(fmt.Sprintf("%s must be a positive integer, got %s", name, echo(raw)))
	}
	return id, nil
}

func eventHotelIDs(r *http.Request) (eventID, hotelID int64, err error) {
	if eventID, err = pathID(r, "event_id"); err != nil {
		return 0, 0, err
	}
	if hotelID, err = pathID(r, "hotel_id"); err != nil {
		return 0, 0, err
	}
	return eventID, hotelID, nil
}

// decodeJSON reads exactly one JSON object into dst: no unknown fields
// (checkFieldNames: spelled exactly as documented, where encoding/json
// alone would accept "ROOMS"), no trailing data, at most maxBodyBytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	buf := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(buf)
	body, err := readBody(http.MaxBytesReader(w, r.Body, maxBodyBytes), (*buf)[:0])
	*buf = body[:0]
	if err != nil {
		return bodyError(err)
	}
	// encoding/json would silently turn invalid bytes into U+FFFD, storing
	// a name other than the one sent.
	if !utf8.Valid(body) {
		return invalid("request body is not valid UTF-8; JSON text must be UTF-8")
	}
	// A well-formed request is decoded once and its names checked by a
	// scan, without decodeBody's decoders (most of the allocations of a
	// booking); anything else goes through decodeBody, which words the
	// refusal.
	if req, ok := dst.(*reserveRequest); ok && scanReserve(body, req) {
		return nil
	}
	if json.Unmarshal(body, dst) == nil && plainFieldNames(body, reflect.TypeOf(dst).Elem()) {
		return nil
	}
	return decodeBody(body, dst)
}

// bodyBuffers hold request bodies while they are decoded: json.Unmarshal
// copies what it keeps, so each buffer serves request after request.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// readBody appends r to buf until EOF, as io.ReadAll does; buf never
// grows past maxBodyBytes and a byte, where the MaxBytesReader stops.
func readBody(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// decodeBody is decodeJSON's check of a body, step by step, each step
// with its own refusal.
func decodeBody(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return invalid("request body must hold exactly one JSON object")
	}
	return checkFieldNames(body, dst)
}

// checkFieldNames refuses keys that match a field only case-insensitively,
// and a key sent twice: encoding/json keeps the last copy silently, so
// {"rooms":1,"rooms":5} would book 5 where a proxy or log that reads the
// first saw 1. body is one valid JSON object (decodeJSON decoded it).
func checkFieldNames(body []byte, dst any) error {
	known := map[string]bool{}
	t := reflect.TypeOf(dst).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if open, err := dec.Token(); err != nil || open != json.Delim('{') {
		return invalid("request body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		token, err := dec.Token()
		name, isName := token.(string)
		if err != nil || !isName {
			return invalid("request body must be a JSON object")
		}
		switch {
		case !known[name]:
			return invalid(fmt.Sprintf("unknown field %s", echo(name)))
		case seen[name]:
			return newError(evento.ErrDuplicateField, fmt.Sprintf("field %s is given twice; send each field once", echo(name)))
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return invalid("request body must be a JSON object")
		}
	}
	return nil
}

// plainFieldNames reports whether body, one valid JSON text, is an object
// whose names are each a field of t, given once and spelled without
// escapes: what checkFieldNames accepts, found by a scan that allocates
// nothing. false says only "ask checkFieldNames".
func plainFieldNames(body []byte, t reflect.Type) bool {
	i := jsonscan.SkipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	var seen uint64 // a bit per field of t
	for i = jsonscan.SkipSpace(body, i+1); i < len(body) && body[i] == '"'; {
		end := i + 1
		for end < len(body) && body[end] != '"' && body[end] != '\\' {
			end++
		}
		if end == len(body) || body[end] == '\\' {
			return false
		}
		field := fieldIndex(t, body[i+1:end])
		if field < 0 || field >= 64 || seen&(1<<field) != 0 {
			return false
		}
		seen |= 1 << field
		i = jsonscan.SkipSpace(body, end+1) + 1 // past the colon
		i = jsonscan.SkipSpace(body, skipValue(body, jsonscan.SkipSpace(body, i)))
		if i < len(body) && body[i] == ',' {
			i = jsonscan.SkipSpace(body, i+1)
		}
	}
	return i < len(body) && body[i] == '}'
}

// fieldIndex is the index of t's field whose JSON name is name; -1 if none.
func fieldIndex(t reflect.Type, name []byte) int {
	for i := range t.NumField() {
		if field, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); field == string(name) {
			return i
		}
	}
	return -1
}

// skipValue returns the end of the valid JSON value that starts at i.
func skipValue(body []byte, i int) int {
	depth := 0
	for ; i < len(body); i++ {
		switch body[i] {
		case '"':
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		case ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooLarge):
		return newError(evento.ErrPayloadTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit))
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return invalid("request body must be a JSON object")
	case errors.As(err, &typeErr):
		return invalid(fmt.Sprintf("field %s has the wrong type: expected %s", echo(typeErr.Field), typeErr.Type))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body is not valid JSON")
	default:
		return invalid("request body is not a valid JSON object")
	}
}

// validName accepts 1..200 characters of visible text. Control and format
// characters (Cc, Cf) and line separators are refused: they hide text (U+200B)
// or reorder it on screen (U+202E makes "alice\u202egnp.exe" read as
// "aliceexe.png"), so a clerk would read another name than the one stored.
// Zero-width joiners go with them, though some scripts and emoji use them:
// a name that displays as something other than its bytes is the greater harm.
func validName(name string) error {
	if name == "" {
		return invalid("name is required")
	}
	if n := utf8.RuneCountInString(name); n > maxNameLength {
		return invalid(fmt.Sprintf("name is %d characters long; at most %d are allowed", n, maxNameLength))
	}
	visible := false
	position := 0
	for _, r := range name {
		position++
		switch {
		case r == utf8.RuneError:
			// The body is valid UTF-8 (decodeJSON), so this came from an
			// unpaired surrogate escape that encoding/json replaced.
			return invalid(fmt.Sprintf("name must not contain U+FFFD (character %d): send valid UTF-8; an unpaired \\uD800-\\uDFFF escape decodes to it", position))
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			return invalid(fmt.Sprintf("name must not contain control or format characters: U+%04X at character %d", r, position))
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !blankLookalikes[r]:
			visible = true
		}
	}
	if !visible {
		return invalid("name must contain a visible character (a letter, digit, punctuation or symbol); spaces and invisible characters alone are not a name")
	}
	return nil
}

// blankLookalikes are letters and symbols by category that display as
// blank space; a name needs something else to be seen.
var blankLookalikes = map[rune]bool{
	'\u115F': true, // HANGUL CHOSEONG FILLER
	'\u1160': true, // HANGUL JUNGSEONG FILLER
	'\u3164': true, // HANGUL FILLER
	'\uFFA0': true, // HALFWIDTH HANGUL FILLER
	'\u2800': true, // BRAILLE PATTERN BLANK
}

// errTransferEncoding refuses a body framed by Transfer-Encoding. With
// Content-Length beside it, a proxy that reads one and a server that reads
// the other disagree on where the request ends, and the rest is read as
// another request (smuggling); net/http keeps Transfer-Encoding and drops
// Content-Length, so the two cannot be told apart from chunked alone,
// which no body of a few hundred bytes needs.
var errTransferEncoding = newError(evento.ErrTransferEncoding,
	"Transfer-Encoding is not accepted: send the body with a Content-Length; this connection is closed")

// requireJSON refuses a POST whose body is not declared JSON. A browser
// sends a cross-origin form or text/plain POST without asking first (no
// CORS preflight); insisting on application/json means a page on another
// site cannot make a visitor's browser book or confirm anything. A POST
// with no body and no Content-Type (curl -X POST .../confirm) carries
// nothing to misread, so it passes.
func requireJSON(r *http.Request) error {
	values, sent := r.Header["Content-Type"]
	if !sent {
		if r.ContentLength == 0 {
			return nil
		}
		return unsupportedMedia("a request body needs Content-Type: application/json")
	}
	if len(values) != 1 {
		return unsupportedMedia("send one Content-Type: application/json")
	}
	if values[0] == "application/json" {
		return nil // what every client sends, without parsing it
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != "application/json" {
		return unsupportedMedia(fmt.Sprintf("Content-Type must be application/json, got %s", echo(values[0])))
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
		return unsupportedMedia(fmt.Sprintf("JSON is UTF-8; charset %s is not accepted", echo(charset)))
	}
	return nil
}

func unsupportedMedia(message string) *Error {
	return newError(evento.ErrUnsupportedMediaType, message)
}

// requireEmptyBody accepts no body or an empty JSON object, for endpoints
// that take their input from the path alone.
func requireEmptyBody(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var empty struct{}
	if err := decodeJSON(w, r, &empty); err != errEmptyBody {
		return err
	}
	return nil
}
