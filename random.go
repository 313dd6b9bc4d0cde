package keystile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
)

// newSecret returns 256 bits from crypto/rand, base64url-encoded: used for
// codes, request ids, CSRF tokens and cookie values (RFC 6749 §10.10 asks for
// at least 128 bits).
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go ≥1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is the stored form of a secret: its SHA-256. The secrets are
// random and 256 bits long, so a fast hash is all that is needed.
func hashSecret(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// maxSecretLen bounds codes and ids before they are hashed or looked up.
const maxSecretLen = 256

// tokenIDRandom hands out the random bytes of access-token jtis.
var tokenIDRandom randomBlocks

// randomBlocks hands out bytes read from crypto/rand in blocks, each byte
// once: one crypto/rand call per ~30 jtis instead of one each (~1,000
// instructions per /token request, callgrind). A byte handed out is wiped
// from the block, and the block is read again only when fewer bytes are
// left than asked for, so no byte is given twice; what is left of a block
// when it is refilled is dropped. The mutex makes a read and its slice of
// the block one step for concurrent requests. Fork is no concern: a Go
// process never forks without exec (syscall.ForkExec), so no copy of the
// block lives on in a child.
//
// It serves jtis only, which are unique ids printed in every token, not
// secrets; codes, refresh tokens and cookie values keep newSecret's
// crypto/rand read each, so that nothing secret sits in memory before use.
type randomBlocks struct {
	mu    sync.Mutex
	block [512]byte
	left  int // the bytes not handed out yet: the last left of block
}

// read fills b (at most len(block) bytes) with bytes no one else gets.
func (r *randomBlocks) read(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.left < len(b) {
		_, _ = rand.Read(r.block[:]) // never fails (crypto/rand, Go ≥1.24)
		r.left = len(r.block)
	}
	next := r.block[len(r.block)-r.left:]
	n := copy(b, next)
	clear(next[:n])
	r.left -= n
}
