package keystile

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	t.Run("headers before the status", func(t *testing.T) {
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusTeapot, noStoreJSON, map[string]string{"a": "b"})
		res := rec.Result()
		if res.StatusCode != http.StatusTeapot {
			t.Errorf("status %d", res.StatusCode)
		}
		for k, v := range noStoreJSON {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		var got map[string]string
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil || got["a"] != "b" {
			t.Errorf("body %v, %v", got, err)
		}
	})
	t.Run("a value that cannot be encoded is a whole 500", func(t *testing.T) {
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusOK, metadataJSON, map[string]any{"f": func() {}})
		res := rec.Result()
		if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("status %d, Cache-Control %q; want 500, no-store", res.StatusCode, res.Header.Get("Cache-Control"))
		}
		var got map[string]string
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil || got["error"] != codeServerError {
			t.Errorf("body %v, %v", got, err)
		}
	})
}
