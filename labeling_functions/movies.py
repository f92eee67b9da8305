"""LFs for the UWS movies data (data/uws_movies): rank movies, and guess a movie's rating.

**Ranking LFs** (``label_type="ranking"``, used by pipelines/movies_ranking.toml).  An
example is a set of movies (see :mod:`weaksup.pipeline.tasks.sets`): ``x.items`` holds their
ids and every movie field is a list aligned with it, so ``x.revenue[j]`` is the revenue of
``x.items[j]``.  Each LF bets that a better-rated movie has more of one thing (money,
attention, length) and ranks the set by it, largest first.  A 0 means "not reported" in
these columns, so such movies are left out (a partial ranking); with fewer than two known
values the LF abstains (``None``).  The columns follow the UWS paper's ranking experiment,
plus three more vote and review counts.

**Regression LFs** (``label_type="regression"``, pipelines/movies_regression.toml).  An
example is one movie; each LF guesses its TMDB ``vote_average`` in its own units: the
other sites' ratings (out of 10 or out of 5), the number of IMDb voters (log scale) and the
runtime.  The label model learns each LF's offset, scale and noise.

No LF reads ``vote_average``: the pipelines keep the gold column away from the LFs.
"""

from __future__ import annotations

import math
from typing import Any

from weaksup.lf import LabelingFunction, labeling_function


def _rank_by(x: Any, column: str) -> list[str] | None:
    """The set's movies with a known (non-zero) ``column``, largest first; None if fewer than 2."""
    known = [(value, item) for item, value in zip(x.items, getattr(x, column)) if value]
    if len(known) < 2:
        return None
    return [item for _, item in sorted(known, key=lambda pair: -pair[0])]


def _ranking_lf(column: str) -> LabelingFunction:
    return labeling_function(name=f"rank_by_{column}", resources={"column": column}, label_type="ranking")(_rank_by)


rank_by_revenue = _ranking_lf("revenue")
rank_by_gross = _ranking_lf("gross")
rank_by_popularity = _ranking_lf("popularity")
rank_by_runtime = _ranking_lf("runtime")
rank_by_movie_facebook_likes = _ranking_lf("movie_facebook_likes")
rank_by_cast_total_facebook_likes = _ranking_lf("cast_total_facebook_likes")
rank_by_director_facebook_likes = _ranking_lf("director_facebook_likes")
rank_by_actor_facebook_likes = _ranking_lf("actor_facebook_likes")
rank_by_num_user_for_reviews = _ranking_lf("num_user_for_reviews")
rank_by_num_critic_for_reviews = _ranking_lf("num_critic_for_reviews")
rank_by_num_voted_users = _ranking_lf("num_voted_users")
rank_by_vote_count = _ranking_lf("vote_count")


@labeling_function(label_type="regression")
def imdb_rating(x: Any) -> float | None:
    """IMDb's user rating, out of 10."""
    return x.imdb_rating or None


@labeling_function(label_type="regression")
def movielens_rating(x: Any) -> float | None:
    """MovieLens users' mean rating, out of 5."""
    return x.mv_lens_avg_rating or None


@labeling_function(label_type="regression")
def tomato_user_rating(x: Any) -> float | None:
    """Rotten Tomatoes' audience rating, out of 5."""
    return x.tomato_user_rating or None


@labeling_function(label_type="regression")
def log_imdb_voters(x: Any) -> float | None:
    """Widely rated movies tend to be well rated: log10 of the number of IMDb voters."""
    return math.log10(x.num_voted_users) if x.num_voted_users else None


@labeling_function(label_type="regression")
def runtime_minutes(x: Any) -> float | None:
    """Longer films tend to be rated higher (dramas, epics)."""
    return float(x.runtime) if x.runtime else None
