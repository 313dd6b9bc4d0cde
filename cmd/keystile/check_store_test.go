//go:build !nosqlite

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// check opens an existing SQLite file whose path carries the driver's
// options after "?", as serve would, instead of taking the whole path for a
// file that does not exist yet; so it reports what serve would refuse.
func TestCheckStoreReadsPathOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystile.db")
	st, err := openStore(t.Context(), storeSpec{Kind: "sqlite", Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	checked, summary, err := checkStore(t.Context(), storeSpec{Kind: "sqlite", Path: path + "?_pragma=cache_size(-4000)"})
	if err != nil {
		t.Fatalf("checkStore: %v", err)
	}
	checked.Close()
	if !strings.Contains(summary, "schema up to date") {
		t.Errorf("checkStore's summary %q; want the existing file opened", summary)
	}

	if st, _, err := checkStore(t.Context(), storeSpec{Kind: "sqlite", Path: path + "?_pragma=locking_mode(EXCLUSIVE)"}); err == nil {
		st.Close()
		t.Error("checkStore accepted locking_mode(EXCLUSIVE), which serve refuses")
	} else if !strings.Contains(err.Error(), "locking_mode(EXCLUSIVE) is not supported") {
		t.Errorf("checkStore: %v; want the refusal of locking_mode(EXCLUSIVE)", err)
	}
}
