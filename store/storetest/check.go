package storetest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

func checkCode(t *testing.T, what string, got, want store.AuthCode) {
	t.Helper()
	if !bytes.Equal(got.Hash, want.Hash) ||
		got.ClientID != want.ClientID ||
		got.RedirectURI != want.RedirectURI ||
		got.Challenge != want.Challenge ||
		got.Subject != want.Subject ||
		got.Nonce != want.Nonce ||
		!slices.Equal(got.Scope, want.Scope) ||
		!slices.Equal(got.Resources, want.Resources) ||
		got.FamilyID != want.FamilyID ||
		!bytes.Equal(got.SessionIDHash, want.SessionIDHash) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
	checkClaims(t, got.Claims, want.Claims)
	checkTime(t, what+" AuthTime", got.AuthTime, want.AuthTime)
	checkTime(t, what+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// checkTime applies the store's time contract: the same instant truncated to
// the millisecond, in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	want = want.Truncate(time.Millisecond)
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
	if want.IsZero() && !got.IsZero() {
		t.Errorf("%s = %v, want the zero time", what, got)
	}
}

// checkClaims applies the store's claims contract: got must be exactly what
// encoding/json makes of want (float64 numbers, []any arrays), with nil and
// empty alike.
func checkClaims(t *testing.T, got, want map[string]any) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("encode the wanted claims: %v", err)
	}
	var norm map[string]any
	if err := json.Unmarshal(b, &norm); err != nil {
		t.Fatalf("decode the wanted claims: %v", err)
	}
	if !reflect.DeepEqual(got, norm) {
		t.Errorf("claims:\n got  %#v\n want %#v", got, norm)
	}
}
