package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A key's fingerprint is the hash of its route, a newline and the
// canonical request: stored keys outlive a server's version, so its
// spelling never changes.
func TestFingerprintHashesRouteAndCanonicalRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set(IdempotencyKeyHeader, "order-18")
	s := &Server{}
	key, err := s.idempotencyKey(r, "POST /1/2/reserve/batched", canonicalReserve{"ann <&> \u2028", 2})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("POST /1/2/reserve/batched\n" + `{"name":"ann \u003c\u0026\u003e \u2028","rooms":2}`))
	if want := hex.EncodeToString(sum[:]); key.Fingerprint != want {
		t.Fatalf("fingerprint %s, want %s", key.Fingerprint, want)
	}
}

// A keyed booking's key and fingerprint cost the key itself, its
// canonical JSON and the fingerprint's text, not copies of the route.
func TestIdempotencyKeyCostsFewAllocations(t *testing.T) {
	countsAllocations(t)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set(IdempotencyKeyHeader, "run-1-12-345")
	s := &Server{}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.idempotencyKey(r, "POST /1/2/reserve/batched", canonicalReserve{"client-12", 3}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Fatalf("idempotencyKey: %.0f allocations, want at most 3", allocs)
	}
}
