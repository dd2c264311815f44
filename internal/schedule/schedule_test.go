package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNext(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	monday := time.Date(2026, 11, 23, 10, 0, 0, 0, berlin) // a Monday, 10:00 in Berlin
	next, err := Next("CRON_TZ=Europe/Berlin 30 8 * * 1-5", monday, nil)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 24, 8, 30, 0, 0, berlin), next.In(berlin), "the next weekday morning, in Berlin")

	next, err = Next("CRON_TZ=Europe/Berlin 30 8 * * *", monday, []string{"sat", "sun"})
	require.NoError(t, err)
	require.Equal(t, time.Saturday, next.In(berlin).Weekday(), "only days the template allows")

	next, err = Next("*/10 * * * * *", monday.Add(3*time.Second), nil)
	require.NoError(t, err)
	require.Equal(t, monday.Add(10*time.Second), next, "with seconds in front")
}

func TestParseSaysWhatIsWrong(t *testing.T) {
	_, err := Parse("CRON_TZ=Europe/Berln 30 8 * * 1-5")
	require.ErrorContains(t, err, `unknown time zone "Europe/Berln"`)
	_, err = Parse("30 25 * * *")
	require.ErrorContains(t, err, "is not a cron schedule")
	_, err = Parse("")
	require.ErrorContains(t, err, "empty")
	_, err = Next("0 8 * * 6", time.Now(), []string{"mon"})
	require.ErrorContains(t, err, "never falls on a day the template allows")
}
