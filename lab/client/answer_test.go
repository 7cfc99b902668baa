package client

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// brokenBody is a body whose read fails after its text.
type brokenBody struct{ r io.Reader }

var errCut = errors.New("connection reset")

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errCut
	}
	return n, err
}

func (b *brokenBody) Close() error { return nil }

// An answer is decoded as a json.Decoder on its body would: its first
// value, whatever follows; a failed read reported when it cut the value.
func TestAnswersDecodeLikeADecoderOnTheBody(t *testing.T) {
	long := `{"reservation_id":7,"name":"` + strings.Repeat("x", 3000) + `"}`
	for _, tc := range []struct {
		name, body string
		broken     bool
		want       int64
		err        error // nil: any error will do when wantErr
		wantErr    bool
	}{
		{name: "one value", body: `{"reservation_id":7,"rooms":2}` + "\n", want: 7},
		{name: "longer than a buffer", body: long, want: 7},
		{name: "trailing data", body: `{"reservation_id":7} trailing`, want: 7},
		{name: "complete, then the read fails", body: `{"reservation_id":7}`, broken: true, want: 7},
		{name: "cut by a failed read", body: `{"reservation_id":7`, broken: true, wantErr: true, err: errCut},
		{name: "not JSON", body: `<html>`, wantErr: true},
		{name: "empty", body: ``, wantErr: true, err: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.ReadCloser = io.NopCloser(strings.NewReader(tc.body))
			if tc.broken {
				body = &brokenBody{strings.NewReader(tc.body)}
			}
			answer := readAnswer(&http.Response{Body: body})
			defer answer.release()
			var r reply
			err := answer.decode(&r)
			switch {
			case tc.wantErr && err == nil, !tc.wantErr && err != nil:
				t.Fatalf("decode = %v, want error %v", err, tc.wantErr)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("decode = %v, want %v", err, tc.err)
			case r.ReservationID != tc.want:
				t.Fatalf("reservation %d, want %d", r.ReservationID, tc.want)
			}
		})
	}
}
