package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
)

// maxAnswerBytes is as much of an answer as is read, and drained, before
// the connection is given up: far above any of Evento's answers.
const maxAnswerBytes = 64 << 10

// answerBody is an answer's body, read whole into a buffer that the next
// answer reuses: a json.Decoder per answer, with its own buffer and
// state, was most of what reading one cost.
type answerBody struct {
	buf *[]byte
	err error // how reading the body failed, if it did
}

var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readAnswer reads resp's body, up to maxAnswerBytes; drain still closes
// it. The answer must be released once decoded.
func readAnswer(resp *http.Response) answerBody {
	a := answerBody{buf: answerBuffers.Get().(*[]byte)}
	b := (*a.buf)[:0]
	for len(b) < maxAnswerBytes {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := resp.Body.Read(b[len(b):min(cap(b), maxAnswerBytes)])
		b = b[:len(b)+n]
		if err != nil {
			if !errors.Is(err, io.EOF) {
				a.err = err
			}
			break
		}
	}
	*a.buf = b
	return a
}

// decode reads the answer's first JSON value into v, as a json.Decoder
// on the body would: what follows it is ignored, and a body cut short by
// a failed read reports that failure.
func (a answerBody) decode(v any) error {
	b := *a.buf
	if r, ok := v.(*reply); ok && scanReply(b, r) {
		return nil
	}
	if json.Unmarshal(b, v) == nil {
		return nil
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err == nil || a.err == nil {
		return err
	}
	return a.err
}

func (a answerBody) release() {
	if cap(*a.buf) <= maxAnswerBytes {
		answerBuffers.Put(a.buf)
	}
}
