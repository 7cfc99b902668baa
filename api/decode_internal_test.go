package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"
)

// decodeJSON's fast path for well-formed bodies must answer exactly as
// the step-by-step check does, for bodies that pass it and bodies that
// do not.
func TestDecodeJSONAnswersAsDecodeBody(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{"name":"ann","rooms":2}`,
		` { "rooms" : 2 , "name" : "ann" } `,
		"{\n\t\"name\":\"ann\",\r\n\"rooms\":2}\n",
		`{"name":"a \"quoted\", {name}","rooms":1}`,
		`{"name":"ann"}`,
		`{}`,
		`{"name":"ann","rooms":2,"name":"bob"}`,
		`{"rooms":1,"rooms":5}`,
		`{"ROOMS":1,"name":"ann"}`,
		`{"Name":"ann","rooms":1}`,
		`{"\u0072ooms":1,"name":"ann"}`,
		`{"name":"ann","rooms":2,"extra":{"a":[1,{"b":"}"}]}}`,
		`{"name":"ann","rooms":{"x":1}}`,
		`{"name":"ann","rooms":[1,2]}`,
		`{"name":"ann","rooms":"2"}`,
		`{"name":null,"rooms":null}`,
		`{"name":"ann","rooms":2.5}`,
		`{"name":"ann","rooms":2}{}`,
		`{"name":"ann","rooms":2} x`,
		`{"name":"ann","rooms":2`,
		`{"name":"ann",}`,
		`[{"name":"ann","rooms":2}]`,
		`"ann"`,
		`null`,
		`2`,
		``,
		`   `,
		`{"name":"\ud800","rooms":1}`,
		`{"":1}`,
		`{"-":1}`,
	}
	for _, body := range bodies {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body)))
		var fast, steps reserveRequest
		fastErr := decodeJSON(httptest.NewRecorder(), r, &fast)
		stepsErr := decodeBody([]byte(body), &steps)
		if body == "" || body == "   " {
			stepsErr = bodyError(io.EOF) // decodeBody's Decode of nothing
		}
		if fmt.Sprint(fastErr) != fmt.Sprint(stepsErr) {
			t.Errorf("%s: decodeJSON %v, decodeBody %v", body, fastErr, stepsErr)
			continue
		}
		if stepsErr == nil && (show(fast.Name) != show(steps.Name) || show(fast.Rooms) != show(steps.Rooms)) {
			t.Errorf("%s: decodeJSON %s/%s, decodeBody %s/%s", body, show(fast.Name), show(fast.Rooms), show(steps.Name), show(steps.Rooms))
		}
	}
}

func show[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// A well-formed booking's body costs a few allocations, not the dozens of
// two decoders and a token scan: each is garbage the server collects on
// every booking.
func TestWellFormedBookingDecodesInFewAllocations(t *testing.T) {
	countsAllocations(t)
	body := []byte(`{"name":"client-12","rooms":3}`)
	r, rewind := rereadable(body)
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() {
		rewind()
		var req reserveRequest
		if err := decodeJSON(w, r, &req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 12 {
		t.Fatalf("decoding a booking: %.0f allocations, want at most 12", allocs)
	}
}

// The Content-Type every client sends is accepted without parsing it.
func TestPlainJSONContentTypeCostsNoAllocation(t *testing.T) {
	countsAllocations(t)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Content-Type", "application/json")
	if allocs := testing.AllocsPerRun(100, func() {
		if err := requireJSON(r); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("requireJSON: %.0f allocations, want none", allocs)
	}
}

// A body is read into a buffer that the next request reuses, not into
// one io.ReadAll allocates for each.
func TestBodyBufferIsReused(t *testing.T) {
	countsAllocations(t)
	body := []byte(`{"name":"client-12","rooms":3}`)
	r, rewind := rereadable(body)
	w := httptest.NewRecorder()
	var req reserveRequest
	withBody := testing.AllocsPerRun(100, func() {
		rewind()
		req = reserveRequest{}
		_ = decodeJSON(w, r, &req)
	})
	alone := testing.AllocsPerRun(100, func() {
		req = reserveRequest{}
		_ = json.Unmarshal(body, &req)
	})
	// The MaxBytesReader is the one allocation besides the decoding.
	if withBody > alone+1 {
		t.Fatalf("decodeJSON: %.0f allocations, decoding alone %.0f", withBody, alone)
	}
}

// Whatever the reserve scan reads, decodeBody (json.Unmarshal and its
// checks) reads alike.
func FuzzReserveScanReadsAsDecodeBody(f *testing.F) {
	for _, body := range []string{`{"name":"ann","rooms":2}`, ` { "rooms" : -0 , "name" : "" } `, `{"rooms":01}`,
		`{"rooms":9223372036854775807}`, `{"rooms":-9223372036854775808}`, `{"name":"a\"b"}`, `{"rooms":2,"rooms":2}`} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var scanned, steps reserveRequest
		if !utf8.ValidString(body) || !scanReserve([]byte(body), &scanned) {
			return
		}
		if err := decodeBody([]byte(body), &steps); err != nil {
			t.Fatalf("%s: scanned %s/%s, decodeBody refuses it: %v", body, show(scanned.Name), show(scanned.Rooms), err)
		}
		if show(scanned.Name) != show(steps.Name) || show(scanned.Rooms) != show(steps.Rooms) {
			t.Fatalf("%s: scanned %s/%s, decodeBody %s/%s", body, show(scanned.Name), show(scanned.Rooms), show(steps.Name), show(steps.Rooms))
		}
	})
}

// The body every client sends takes the scan.
func TestClientsBodiesAreScanned(t *testing.T) {
	for _, body := range []string{`{"name":"client-12","rooms":3}`, `{"rooms":3,"name":"Zoë"}`, "{\n \"name\": \"ann\",\n \"rooms\": 1\n}\n"} {
		var req reserveRequest
		if !scanReserve([]byte(body), &req) || *req.Name == "" || *req.Rooms == 0 {
			t.Errorf("%s: not scanned", body)
		}
	}
}

// rereadable is a POST of body, which rewind lets the next run read again.
func rereadable(body []byte) (r *http.Request, rewind func()) {
	reader := bytes.NewReader(body)
	r = httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = io.NopCloser(reader)
	return r, func() { reader.Reset(body) }
}
