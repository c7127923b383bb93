package config

import (
	"errors"
	"net/url"

	commoncfg "github.com/prometheus/common/config"
)

// HTTPClientConfig is the client side of every outgoing HTTP connection
// (remote_write, alerting.alertmanagers, rules.query_client, loki): the
// keys of Prometheus's http_config, restricted to credentials read from
// files, so that the config file itself holds no secret. Sections inline
// it, so its keys sit next to the section's own (remote_write[0].basic_auth).
// It becomes prometheus/common's HTTPClientConfig (Prometheus's own
// client, which re-reads credential files on every request: rotating a
// token needs no reload).
type HTTPClientConfig struct {
	BasicAuth       BasicAuthConfig `yaml:"basic_auth"`
	BearerTokenFile Path            `yaml:"bearer_token_file"`
	TLSConfig       TLSConfig       `yaml:"tls_config"`
	// OAuth2 gets a token with the client credentials grant; set when
	// client_id is.
	OAuth2 OAuth2Config `yaml:"oauth2"`
	// ProxyURL is an HTTP proxy for the requests ("" means none; the
	// environment's HTTP_PROXY is not used unless proxy_from_environment).
	ProxyURL             string `yaml:"proxy_url"`
	NoProxy              string `yaml:"no_proxy"`
	ProxyFromEnvironment bool   `yaml:"proxy_from_environment"`
}

// BasicAuthConfig is HTTP basic authentication with the password in a file.
type BasicAuthConfig struct {
	Username     string `yaml:"username"`
	PasswordFile Path   `yaml:"password_file"`
}

// TLSConfig configures the TLS client of an HTTP client section.
type TLSConfig struct {
	CAFile             Path   `yaml:"ca_file"`
	CertFile           Path   `yaml:"cert_file"`
	KeyFile            Path   `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// OAuth2Config is OAuth 2.0 client credentials, the secret in a file.
type OAuth2Config struct {
	ClientID         string            `yaml:"client_id"`
	ClientSecretFile Path              `yaml:"client_secret_file"`
	TokenURL         string            `yaml:"token_url"`
	Scopes           []string          `yaml:"scopes"`
	EndpointParams   map[string]string `yaml:"endpoint_params"`
}

// Validate checks the credentials: secrets come from readable files
// only (a typo is a config error, not a stream of failed requests later;
// their content is never reported), one kind of authentication at a
// time, a client certificate with its key, URLs without credentials.
func (c *HTTPClientConfig) Validate() error {
	errs := checkClientAuth(c.BasicAuth, c.BearerTokenFile, c.TLSConfig)
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	o := c.OAuth2
	if o.ClientID != "" || o.ClientSecretFile != "" || o.TokenURL != "" {
		if o.ClientID == "" {
			add(Fieldf("oauth2.client_id", "is required with oauth2"))
		}
		if o.ClientSecretFile == "" {
			add(Fieldf("oauth2.client_secret_file", "is required with oauth2 (secrets are read from files only)"))
		}
		add(checkHTTPURL("oauth2.token_url", o.TokenURL, "https://auth.example.com/oauth2/token", true))
		add(checkReadable("oauth2.client_secret_file", o.ClientSecretFile))
		if c.BasicAuth.Username != "" || c.BearerTokenFile != "" {
			add(Fieldf("oauth2", "cannot be used together with basic_auth or bearer_token_file"))
		}
	}
	if c.ProxyURL != "" {
		add(checkHTTPURL("proxy_url", c.ProxyURL, "http://proxy.example.com:3128", true))
		if c.ProxyFromEnvironment {
			add(Fieldf("proxy_url", "cannot be used together with proxy_from_environment"))
		}
	} else if c.NoProxy != "" && !c.ProxyFromEnvironment {
		add(Fieldf("no_proxy", "needs proxy_url"))
	}
	if len(errs) == 0 {
		// What prometheus/common itself refuses, in its words.
		hc := c.Prometheus(commoncfg.DefaultHTTPClientConfig)
		add(hc.Validate())
	}
	return errors.Join(errs...)
}

// checkHTTPURL accepts an http:// or https:// URL with a host; without
// credentials in it when noUserinfo.
func checkHTTPURL(field, s, example string, noUserinfo bool) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Fieldf(field, "expected an http:// or https:// URL like %q, got %s", example, quote(redactURL(s)))
	}
	if noUserinfo && u.User != nil {
		return Fieldf(field, "must not contain credentials")
	}
	return nil
}

// Prometheus returns the client configuration prometheus/common builds
// clients from: base (its defaults for the use, e.g.
// DefaultRemoteWriteHTTPClientConfig) with these credentials, TLS and
// proxy settings. Run it on a validated configuration.
func (c HTTPClientConfig) Prometheus(base commoncfg.HTTPClientConfig) commoncfg.HTTPClientConfig {
	h := base
	if c.BasicAuth.Username != "" {
		h.BasicAuth = &commoncfg.BasicAuth{Username: c.BasicAuth.Username, PasswordFile: string(c.BasicAuth.PasswordFile)}
	}
	if c.BearerTokenFile != "" {
		h.Authorization = &commoncfg.Authorization{Type: "Bearer", CredentialsFile: string(c.BearerTokenFile)}
	}
	h.TLSConfig = commoncfg.TLSConfig{
		CAFile:             string(c.TLSConfig.CAFile),
		CertFile:           string(c.TLSConfig.CertFile),
		KeyFile:            string(c.TLSConfig.KeyFile),
		ServerName:         c.TLSConfig.ServerName,
		InsecureSkipVerify: c.TLSConfig.InsecureSkipVerify,
	}
	if o := c.OAuth2; o.ClientID != "" {
		h.OAuth2 = &commoncfg.OAuth2{
			ClientID:         o.ClientID,
			ClientSecretFile: string(o.ClientSecretFile),
			TokenURL:         o.TokenURL,
			Scopes:           o.Scopes,
			EndpointParams:   o.EndpointParams,
		}
	}
	if c.ProxyURL != "" {
		if u, err := url.Parse(c.ProxyURL); err == nil {
			h.ProxyURL = commoncfg.URL{URL: u}
		}
		h.NoProxy = c.NoProxy
	}
	h.ProxyFromEnvironment = c.ProxyFromEnvironment
	if c.ProxyFromEnvironment {
		h.NoProxy = ""
	}
	if h.OAuth2 != nil {
		h.OAuth2.ProxyConfig = h.ProxyConfig
	}
	return h
}
