package testutil

import (
	"testing"
	"time"
)

func TestParseForm(t *testing.T) {
	body := `<form method="post" action='/login?x=1&amp;y=2'>
<input type="hidden" name="request_id" value="r&amp;1">
<input value="c2" name="csrf_token" TYPE="HIDDEN">
<input type="text" name="username" value="alice"></form>`
	f, ok := ParseForm(body)
	if !ok || f.Action != "/login?x=1&y=2" || f.Hidden.Get("request_id") != "r&1" || f.Hidden.Get("csrf_token") != "c2" || f.Hidden.Has("username") {
		t.Fatalf("ParseForm = %+v, %v", f, ok)
	}
	if _, ok := ParseForm("<p>no form</p>"); ok {
		t.Fatal("ParseForm found a form in a page without one")
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := StoppedClock(at)
	c.Advance(time.Hour)
	c.Advance(-time.Minute)
	if got := c.Now(); !got.Equal(at.Add(59 * time.Minute)) {
		t.Fatalf("stopped clock reads %v, want %v", got, at.Add(59*time.Minute))
	}
	var live Clock
	live.Advance(24 * time.Hour)
	if d := time.Until(live.Now()); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("a live clock advanced a day reads %v from now", d)
	}
}
