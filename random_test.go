package keystile

import (
	"bytes"
	"crypto/rand"
	"sync"
	"testing"
	"testing/cryptotest"
)

// TestRandomBlocksHandOutCryptoRandInOrder: with crypto/rand made
// deterministic, the bytes handed out are crypto/rand's stream in order,
// each once, a block's tail dropped when a read does not fit in it, and
// every byte handed out wiped from the block.
func TestRandomBlocksHandOutCryptoRandInOrder(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1)
	var want [3][512]byte
	for i := range want {
		_, _ = rand.Read(want[i][:])
	}
	cryptotest.SetGlobalRandom(t, 1) // the same stream again, for r

	var r randomBlocks
	var got []byte
	for range 512 / 17 { // 30 reads of 17 fit in the first block
		var b [17]byte
		r.read(b[:])
		got = append(got, b[:]...)
	}
	if !bytes.Equal(got, want[0][:510]) {
		t.Fatal("the first block's bytes were not handed out in order")
	}
	if !bytes.Equal(r.block[:510], make([]byte, 510)) || r.block[510] != want[0][510] {
		t.Error("the bytes handed out were not wiped, or the rest was")
	}
	var b [17]byte
	r.read(b[:]) // 2 bytes left: a new block
	if !bytes.Equal(b[:], want[1][:17]) {
		t.Errorf("after the block ran short: %x, want the next block's first bytes %x", b, want[1][:17])
	}
	big := make([]byte, 512)
	r.read(big) // does not fit in what is left: a whole new block
	if !bytes.Equal(big, want[2][:]) {
		t.Error("a read of a whole block did not get a whole new block")
	}
}

// TestRandomBlocksConcurrent: concurrent readers never get the same bytes
// (run with -race to check the locking too).
func TestRandomBlocksConcurrent(t *testing.T) {
	var r randomBlocks
	const readers, reads = 8, 500
	out := make([][][17]byte, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			for range reads {
				var b [17]byte
				r.read(b[:])
				out[i] = append(out[i], b)
			}
		})
	}
	wg.Wait()
	seen := map[[17]byte]bool{}
	for _, o := range out {
		for _, b := range o {
			if seen[b] {
				t.Fatalf("%x handed out twice", b)
			}
			seen[b] = true
		}
	}
}
