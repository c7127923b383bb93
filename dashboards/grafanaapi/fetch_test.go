package grafanaapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// stand-in serves Grafana's search and dashboard API shapes (Grafana 11:
// search hits with uid/type/url, dashboards as {dashboard, meta}) for n
// dashboards, and refuses a missing or wrong bearer token with 401 as
// Grafana does.
func standIn(t *testing.T, n int, token string) (*httptest.Server, *int) {
	t.Helper()
	searches := 0
	mux := http.NewServeMux()
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401,"traceID":""}`)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /api/search", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		searches++
		if r.URL.Query().Get("type") != "dash-db" {
			t.Errorf("search type %q", r.URL.Query().Get("type"))
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var hits []map[string]any
		for i := (page - 1) * limit; i < page*limit && i < n; i++ {
			uid := fmt.Sprintf("d%04d", i)
			hits = append(hits, map[string]any{"id": i + 1, "uid": uid, "title": "Board " + uid, "uri": "db/board-" + uid,
				"url": "/d/" + uid + "/board-" + uid, "slug": "", "type": "dash-db", "tags": []string{}, "isStarred": false, "sortMeta": 0})
		}
		if hits == nil {
			hits = []map[string]any{}
		}
		json.NewEncoder(w).Encode(hits)
	})
	mux.HandleFunc("GET /api/dashboards/uid/{uid}", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		uid := r.PathValue("uid")
		if !strings.HasPrefix(uid, "d") {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Dashboard not found"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"dashboard": map[string]any{"uid": uid, "title": "Board " + uid, "schemaVersion": 27, "panels": []any{}},
			"meta":      map[string]any{"type": "db", "slug": "board-" + uid, "folderTitle": "Team catalog", "folderUid": "f1"},
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &searches
}

func TestSearchPagesAndDashboards(t *testing.T) {
	srv, searches := standIn(t, pageSize+3, "s3cret")
	c := &Client{BaseURL: srv.URL + "/", Token: "s3cret", HTTP: srv.Client()}
	hits, err := c.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != pageSize+3 || *searches != 2 {
		t.Fatalf("%d hits in %d searches, want %d in 2", len(hits), *searches, pageSize+3)
	}
	d, err := c.Dashboard(context.Background(), hits[5].UID)
	if err != nil {
		t.Fatal(err)
	}
	if d.UID != "d0005" || d.Title != "Board d0005" || d.Folder != "Team catalog" || !strings.Contains(string(d.JSON), `"schemaVersion":27`) {
		t.Fatalf("dashboard %+v", d)
	}
}

func TestTokenRefusedAndNotInErrors(t *testing.T) {
	srv, _ := standIn(t, 1, "right-token")
	c := &Client{BaseURL: srv.URL, Token: "wrong-token", HTTP: srv.Client()}
	_, err := c.Search(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("error %v", err)
	}
	c.Token = "right-token"
	if _, err := c.Dashboard(context.Background(), "x-missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing dashboard: %v", err)
	}
}
