package memory_test

import (
	"testing"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
	"github.com/keystile/keystile/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return memory.New() })
}

func BenchmarkCreateConsumeCode(b *testing.B) {
	storetest.BenchCreateConsumeCode(b, memory.New())
}

func BenchmarkCreateConsumeCodeParallel(b *testing.B) {
	storetest.BenchCreateConsumeCodeParallel(b, memory.New())
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	storetest.BenchRotateRefreshToken(b, memory.New())
}
