package api_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/api"
)

// A request framed two ways (Content-Length and Transfer-Encoding), with a
// second request hidden where one framing says the body is, is refused
// with 400 transfer_encoding, the connection is closed, and the hidden
// request is never served: nothing is booked. A body framed by
// Transfer-Encoding alone is refused the same way, since net/http leaves
// no trace of a Content-Length beside it.
func TestTransferEncodingIsRefusedAndTheConnectionClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	hidden := "POST " + f.reservePath(0, "atomic") + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n" +
		`{"name":"smuggled","rooms":1}`
	body := `{"name":"a","rooms":1}`
	for _, c := range []struct{ name, request string }{
		{"Content-Length and Transfer-Encoding", "POST " + f.reservePath(0, "atomic") + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"Transfer-Encoding and Content-Length", "POST " + f.reservePath(0, "atomic") + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + hidden},
		{"chunked alone", "POST " + f.reservePath(0, "atomic") + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n16\r\n" + body + "\r\n0\r\n\r\n" + hidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.dbState(t)
			conn, err := net.Dial("tcp", strings.TrimPrefix(f.server.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, c.request); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(conn)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			var answer struct {
				Error struct{ Code string } `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&answer)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || answer.Error.Code != "transfer_encoding" || !resp.Close {
				t.Fatalf("%d %q, closing %v: want 400 transfer_encoding and the connection closed", resp.StatusCode, answer.Error.Code, resp.Close)
			}
			if b, err := r.ReadByte(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the refusal: %q %v, want the connection closed", b, err)
			}
			f.assertUnchanged(t, before)
		})
	}
	// The same booking with a Content-Length is served.
	if r := f.do(t, "POST", f.reservePath(0, "atomic"), body); r.status != http.StatusCreated {
		t.Fatalf("with Content-Length: %d %s", r.status, r.raw)
	}
}
