"""From saved runs to what people read: the leaderboard, bootstrap resampling, statistics,
and the HTML report with its templates."""
