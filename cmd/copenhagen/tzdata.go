package main

// Time zones are embedded (Go's copy of the IANA database, about 450 kB):
// Alertmanager time_intervals with a location (what `copenhagen import
// seyren` writes for Seyren's per-check hours) must work in the FROM
// scratch container image, which has no /usr/share/zoneinfo.
import _ "time/tzdata"
