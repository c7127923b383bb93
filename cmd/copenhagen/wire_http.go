package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/webserve"
	"github.com/copenhagen-obs/copenhagen/translate/promapi"
)

// httpGuard is what stands in front of every HTTP handler: the request
// body limit and the PromQL limits of /api/v1. Both follow reloads.
type httpGuard struct {
	maxBody atomic.Int64
	limits  atomic.Pointer[promapi.Limits]
}

func (g *httpGuard) set(c config.HTTPConfig) {
	g.maxBody.Store(int64(c.MaxRequestBodySize))
	g.limits.Store(&promapi.Limits{
		MaxLength: int(c.MaxQueryLength), MaxDepth: c.MaxQueryDepth, MaxOperators: c.MaxQueryOperators,
		LengthKey: "http.max_query_length", DepthKey: "http.max_query_depth", OperatorsKey: "http.max_query_operators",
	})
}

// handler wraps mux: every write's body is bounded, and the PromQL of
// every /api/v1 request (the query API's and the rules API's) is checked
// before a parser sees it.
func (g *httpGuard) handler(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := mux
		if strings.HasPrefix(r.URL.Path, "/api/v1/") {
			h = promapi.Limit(*g.limits.Load(), mux)
		}
		webserve.LimitBody(g.maxBody.Load(), h).ServeHTTP(w, r)
	})
}

// buildHTTPGuard sets the request limits, loads http.web_config_file into
// its validated private copy (webserve.WebConfig) and registers the reload
// of both.
func (a *app) buildHTTPGuard(cfg *config.Config) error {
	a.httpGuard.set(cfg.HTTP)
	if cfg.HTTP.WebConfigFile != "" {
		wc, err := webserve.LoadWebConfig(string(cfg.HTTP.WebConfigFile))
		if err != nil {
			return err
		}
		a.webConfig = wc
	}
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		var commitWeb func()
		switch src := string(next.HTTP.WebConfigFile); {
		case a.webConfig == nil && src != "", a.webConfig != nil && src == "":
			return nil, fmt.Errorf("http.web_config_file: adding or removing it takes a restart")
		case src != "":
			c, err := a.webConfig.Prepare(src)
			if err != nil {
				return nil, err
			}
			commitWeb = c
		}
		return func() {
			a.httpGuard.set(next.HTTP)
			if commitWeb != nil {
				commitWeb()
			}
		}, nil
	})
	return nil
}

func (a *app) webConfigPath() string {
	if a.webConfig == nil {
		return ""
	}
	return a.webConfig.Path()
}

func (a *app) closeWebConfig() {
	if a.webConfig != nil {
		_ = a.webConfig.Close()
	}
}
