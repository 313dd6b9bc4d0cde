package schema

import (
	"testing"
	"testing/fstest"
)

func TestVersions(t *testing.T) {
	fsys := fstest.MapFS{
		"00001_schema.sql":  {},
		"00010_notify.sql":  {},
		"00003_devices.sql": {},
	}
	got, err := Versions(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 10 {
		t.Fatalf("Versions = %v, want [1 3 10]", got)
	}
	for _, bad := range []string{"schema.sql", "x_schema.sql", "00000_zero.sql"} {
		if _, err := Versions(fstest.MapFS{bad: {}}); err == nil {
			t.Errorf("Versions accepted a file named %q", bad)
		}
	}
}

func TestCurrent(t *testing.T) {
	embedded := []int64{1, 3, 10}
	for _, tc := range []struct {
		applied []int64
		want    bool
	}{
		{nil, false},
		{[]int64{0, 1, 3}, false},        // 10 is pending
		{[]int64{0, 1, 3, 10}, true},     // goose's row 0 is its own
		{[]int64{0, 1, 3, 10, 11}, true}, // a newer binary migrated further
		{[]int64{0, 1, 10}, false},       // 3 is missing below the latest
		{[]int64{10, 3, 1, 0}, true},     // order does not matter
	} {
		if got := Current(embedded, tc.applied); got != tc.want {
			t.Errorf("Current(%v, %v) = %v, want %v", embedded, tc.applied, got, tc.want)
		}
	}
}
