package shadow

import (
	"fmt"
	"log/slog"
	"math"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// replayStorage is what the replay reads: one snapshot of Copenhagen's
// storage, opened read-only once, and a scratch storage that receives the
// rules' own output.
//
// The snapshot is taken once on purpose. tsdb.DBReadOnly.Querier loads
// the blocks and replays the whole WAL into a new head at every call,
// and hard-links the live head's m-mapped chunk files into its sandbox
// again: once the live head has m-mapped chunks (tsdb does it every
// minute), every call after the first failed with "hardlink a chunk:
// file exists", which the replay counted as promql_error for every check
// at every step it hit; and each call kept another head in memory until
// the end. Loaded once, the replay reads one consistent state of the
// storage, and its sandbox lives in the replay's own temporary directory,
// not under the live storage.path.
type replayStorage struct {
	data    storage.Querier
	scratch *tsdb.DB
}

func openReplayStorage(dataDir, scratchDir string, logger *slog.Logger) (*replayStorage, func(), error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ro, err := tsdb.OpenDBReadOnly(dataDir, scratchDir, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: opening the storage %s read-only: %w", dataDir, err)
	}
	data, err := ro.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		ro.Close()
		return nil, nil, fmt.Errorf("replay: reading the storage %s: %w", dataDir, err)
	}
	scratch, err := tsdb.Open(scratchDir+"/rules", logger, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		data.Close()
		ro.Close()
		return nil, nil, fmt.Errorf("replay: scratch storage: %w", err)
	}
	return &replayStorage{data: data, scratch: scratch}, func() {
		scratch.Close()
		data.Close()
		ro.Close()
	}, nil
}

// Querier reads both, the stored data through the snapshot's querier
// (the engine only reads the samples within its hints' range).
func (m *replayStorage) Querier(mint, maxt int64) (storage.Querier, error) {
	b, err := m.scratch.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return storage.NewMergeQuerier([]storage.Querier{keepOpen{m.data}, b}, nil, storage.ChainedSeriesMerge), nil
}

// keepOpen is the snapshot's querier, closed by the replay only.
type keepOpen struct{ storage.Querier }

func (keepOpen) Close() error { return nil }
