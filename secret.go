package evento

import (
	"crypto/sha256"
	"encoding/hex"
)

// ShortHash names a secret (an Idempotency-Key, a bearer token) in logs and
// error messages: the same secret always gets the same 8 hex digits, so
// lines about one request can be matched, but the digits cannot be used to
// replay it. Whoever holds a key gets its stored answer, so the key itself
// must never be written anywhere an operator or a log shipper can read.
func ShortHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:4])
}
