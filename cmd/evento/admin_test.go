package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A real evento serve keeps /metrics off its public port: the lab finds
// them on the loopback admin port the server names on its second line.
func TestServeKeepsMetricsOnTheAdminPort(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	s := startServers(t, bundle, 1)[0]

	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	if status, body := get(s.URL, "/metrics"); status != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
		t.Errorf("public /metrics: %d %.200s", status, body)
	}
	if status, _ := get(s.URL, "/healthz"); status != http.StatusOK {
		t.Errorf("public /healthz: %d", status)
	}
	if status, body := get(s.AdminURL, "/metrics"); status != http.StatusOK || !strings.Contains(body, `evento_requests_total{code="not_found"`) {
		t.Errorf("admin /metrics: %d, without the public 404 counted: %.300s", status, body)
	}
	if status, _ := get(s.AdminURL, "/healthz"); status != http.StatusOK {
		t.Errorf("admin /healthz: %d", status)
	}
	u, err := url.Parse(s.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() || u.Port() == "0" || s.AdminURL == s.URL {
		t.Errorf("admin URL %s: want a loopback port of its own", s.AdminURL)
	}
}
