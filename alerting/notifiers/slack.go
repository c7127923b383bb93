package notifiers

// SlackTemplate makes Alertmanager's default Slack message read like
// Seyren's for alerts that come from a Seyren check (check_id label):
//
//	:rotating_light: *ERROR* catalog 500s          (title, linked to the check)
//	Catalog API answers 500                          (description)
//	ERROR app=catalog = 7                            (one line per series)
//
// Other alerts keep Alertmanager's default title and an empty text.
// It redefines Alertmanager's slack.default.* templates, so it applies to
// every slack_config that does not set title/title_link/text itself; it is
// loaded only when the configuration has no templates of its own (which
// may define these names). Links to the alert list point at Copenhagen's
// /alerts page instead of Alertmanager's UI.
const SlackTemplate = `
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}/alerts?receiver={{ .Receiver | urlquery }}{{ end }}
{{ define "copenhagen.seyren.state" }}{{ if eq .Status "resolved" }}OK{{ else if eq .Labels.severity "critical" }}ERROR{{ else }}WARN{{ end }}{{ end }}
{{ define "copenhagen.seyren.emoji" }}{{ if eq . "OK" }}:white_check_mark:{{ else if eq . "WARN" }}:warning:{{ else }}:rotating_light:{{ end }}{{ end }}
{{ define "copenhagen.seyren.title" }}{{ $s := "" }}{{ if eq (len .Alerts.Firing) 0 }}{{ $s = "OK" }}{{ else }}{{ $s = "WARN" }}{{ range .Alerts.Firing }}{{ if eq .Labels.severity "critical" }}{{ $s = "ERROR" }}{{ end }}{{ end }}{{ end }}{{ template "copenhagen.seyren.emoji" $s }} *{{ $s }}* {{ .CommonLabels.check }}{{ end }}
{{ define "copenhagen.seyren.text" }}{{ with .CommonAnnotations.description }}{{ . }}
{{ end }}{{ range .Alerts }}{{ template "copenhagen.seyren.state" . }} {{ with .Labels.seyren_series }}{{ reReplaceAll ",$" "" . }}{{ else }}{{ .Labels.check }}{{ end }} = {{ .Annotations.value }}
{{ end }}{{ end }}
{{ define "slack.default.title" }}{{ if .CommonLabels.check_id }}{{ template "copenhagen.seyren.title" . }}{{ else }}{{ template "__subject" . }}{{ end }}{{ end }}
{{ define "slack.default.titlelink" }}{{ if .CommonAnnotations.seyren_url }}{{ .CommonAnnotations.seyren_url }}{{ else }}{{ template "__alertmanagerURL" . }}{{ end }}{{ end }}
{{ define "slack.default.text" }}{{ if .CommonLabels.check_id }}{{ template "copenhagen.seyren.text" . }}{{ end }}{{ end }}
`
