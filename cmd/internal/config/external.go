package config

import (
	"net"
	"net/url"
	"os"
)

// ExternalURL is how users reach Copenhagen, for the links in alerts
// (generatorURL) and notifications (<url>/alerts): alerting.external_url
// when set, else this host at the port of http.listen (the host written
// there, or the host name when it listens on every interface), as
// Prometheus's --web.external-url defaults to its listen address. It is
// nil without either (no HTTP server: there is nothing to link to). Call
// it on a validated configuration.
func (c *Config) ExternalURL() *url.URL {
	if s := c.Alerting.ExternalURL; s != "" {
		if u, err := url.Parse(s); err == nil {
			return u
		}
		return nil
	}
	host, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		return nil
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if host, err = os.Hostname(); err != nil {
			host = "localhost"
		}
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
}
