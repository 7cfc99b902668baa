package faultproxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/faultproxy"
)

// While the proxy loses replies, a POST reaches the server and is done,
// and its client hears nothing: the connection ends without an answer. A
// GET still gets through, and once the window is over so does a POST.
func TestHTTPLosesRepliesToPosts(t *testing.T) {
	t.Parallel()
	var done atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			done.Add(1)
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = io.WriteString(w, "answer")
	}))
	defer server.Close()
	proxy, err := faultproxy.StartHTTP(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// No retries of the client's own: a lost answer must reach the test.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	post := func() (int, error) {
		req, _ := http.NewRequest(http.MethodPost, proxy.URL()+"/book", strings.NewReader("{}"))
		req.GetBody = nil
		res, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, err = io.ReadAll(res.Body)
		return res.StatusCode, err
	}

	if status, err := post(); err != nil || status != http.StatusCreated {
		t.Fatalf("before the fault: %d, %v", status, err)
	}
	lost := make(chan int)
	go func() { lost <- proxy.LoseReplies(context.Background(), 500*time.Millisecond) }()
	time.Sleep(50 * time.Millisecond) // let the window open
	if status, err := post(); err == nil {
		t.Fatalf("during the fault a POST was answered %d", status)
	}
	if got := done.Load(); got != 2 {
		t.Fatalf("the server did %d POSTs, want 2: the lost one must have been done", got)
	}
	res, err := c.Get(proxy.URL() + "/healthz")
	if err != nil {
		t.Fatalf("during the fault a GET was lost: %v", err)
	}
	res.Body.Close()
	if n := <-lost; n != 1 {
		t.Fatalf("LoseReplies lost %d, want 1", n)
	}
	if status, err := post(); err != nil || status != http.StatusCreated {
		t.Fatalf("after the fault: %d, %v", status, err)
	}
}
