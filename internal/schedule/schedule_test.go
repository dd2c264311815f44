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

func TestNextCountsDaysInTheScheduleZone(t *testing.T) {
	// 01:00 on Saturday in Tokyo is still Friday in UTC: the template's allowed days are the schedule's.
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	friday := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	next, err := Next("CRON_TZ=Asia/Tokyo 0 1 * * *", friday, []string{"sat"})
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 28, 1, 0, 0, 0, tokyo), next.In(tokyo))
}

func TestRequiredStop(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	monday := time.Date(2026, 11, 23, 10, 0, 0, 0, berlin)
	_, ok := RequiredStop("", nil, monday)
	require.False(t, ok, "no required days, no required stop")

	at, ok := RequiredStop("", []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, monday)
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), at.UTC(), "midnight UTC by default")

	at, ok = RequiredStop("CRON_TZ=Europe/Berlin 0 22 * * *", []string{"fri"}, monday)
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 11, 27, 22, 0, 0, 0, berlin), at.In(berlin), "the owner's quiet hours on a required day")

	late := time.Date(2026, 11, 27, 21, 30, 0, 0, berlin)
	at, _ = RequiredStop("CRON_TZ=Europe/Berlin 0 22 * * *", []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, late)
	require.Equal(t, time.Date(2026, 11, 28, 22, 0, 0, 0, berlin), at.In(berlin), "a start within the hour before runs to the next quiet hours")
}
