package grafanaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxBody bounds each API response.
const MaxBody = 32 << 20

// pageSize is the search page size (Grafana's maximum is 5000).
const pageSize = 1000

// maxPages bounds the search, whatever the server answers.
const maxPages = 1000

// Hit is one search result.
type Hit struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	Type  string `json:"type"`
	URL   string `json:"url"`
}

// Dashboard is one dashboard as the API returns it.
type Dashboard struct {
	UID   string
	Title string
	// JSON is the dashboard model (the "dashboard" member of the answer).
	JSON json.RawMessage
	// Folder is the folder title from the answer's meta, if any.
	Folder string
}

// Client reads dashboards from one Grafana instance.
type Client struct {
	BaseURL string
	// Token is a service account token or API key, sent as a bearer
	// token. It never appears in errors.
	Token string
	HTTP  *http.Client
}

// Search lists every dashboard (type dash-db), all pages.
func (c *Client) Search(ctx context.Context) ([]Hit, error) {
	var all []Hit
	for page := 1; page <= maxPages; page++ {
		q := url.Values{"type": {"dash-db"}, "limit": {fmt.Sprint(pageSize)}, "page": {fmt.Sprint(page)}}
		var hits []Hit
		if err := c.get(ctx, "/api/search?"+q.Encode(), &hits); err != nil {
			return nil, err
		}
		for _, h := range hits {
			if h.Type == "" || h.Type == "dash-db" {
				all = append(all, h)
			}
		}
		if len(hits) < pageSize {
			return all, nil
		}
	}
	return nil, fmt.Errorf("grafana search: more than %d pages", maxPages)
}

// Dashboard reads one dashboard by uid.
func (c *Client) Dashboard(ctx context.Context, uid string) (Dashboard, error) {
	var answer struct {
		Dashboard json.RawMessage `json:"dashboard"`
		Meta      struct {
			FolderTitle string `json:"folderTitle"`
		} `json:"meta"`
	}
	if err := c.get(ctx, "/api/dashboards/uid/"+url.PathEscape(uid), &answer); err != nil {
		return Dashboard{}, err
	}
	if len(answer.Dashboard) == 0 || string(answer.Dashboard) == "null" {
		return Dashboard{}, fmt.Errorf("grafana dashboard %s: no dashboard in the answer", uid)
	}
	var head struct {
		Title string `json:"title"`
	}
	_ = json.Unmarshal(answer.Dashboard, &head)
	return Dashboard{UID: uid, Title: head.Title, JSON: answer.Dashboard, Folder: answer.Meta.FolderTitle}, nil
}

func (c *Client) get(ctx context.Context, path string, into any) error {
	u := strings.TrimRight(c.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("grafana %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL is ours, the token is only in a header.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("grafana GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return fmt.Errorf("grafana GET %s: %w", path, err)
	}
	if len(body) > MaxBody {
		return fmt.Errorf("grafana GET %s: answer larger than %d bytes", path, MaxBody)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("grafana GET %s: %s: check the token (a service account token with the Viewer role reads dashboards)", path, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("grafana GET %s: %s: %s", path, resp.Status, snippet(body))
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("grafana GET %s: %w", path, err)
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
