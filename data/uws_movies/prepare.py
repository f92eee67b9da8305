"""Rebuild ``movies.csv`` here from the UWS repository's ``data/movies.csv`` (see SOURCE.txt).

    python data/uws_movies/prepare.py ../shared/data/uws_movies/movies.csv

Keeps the columns listed below, one row per ``tmdbId`` (the first), and adds a ``split``
column: a seeded random 30% of the movies are ``test``, the rest ``train``.  The ranking
pipeline draws its train and test sets from these two disjoint pools.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

ID = ["tmdbId"]
LABEL = ["vote_average"]
RATINGS = ["imdb_rating", "mv_lens_avg_rating", "tomato_user_rating"]
LF_FEATURES = [
    "revenue", "gross", "popularity", "runtime", "movie_facebook_likes", "cast_total_facebook_likes",
    "director_facebook_likes", "actor_facebook_likes", "num_user_for_reviews", "num_critic_for_reviews",
    "num_voted_users", "vote_count",
]  # fmt: skip
OTHER_FEATURES = [
    "budget", "title_year", "aspect_ratio", "facenumber_in_poster", "count_production_countries",
    "count_spoken_langueges", "missing_homepage", "woman_director", "independent_film", "based_on_novel", "sequel",
    "G", "PG", "PG-13", "R",
    "Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Musical", "Mystery", "Romance", "Sci-Fi", "Sport", "Thriller",
    "War", "Western",
]  # fmt: skip
TEST_SHARE, SEED = 0.3, 0


def prepare(source: Path) -> pl.DataFrame:
    movies = pl.read_csv(source).select(ID + LABEL + RATINGS + LF_FEATURES + OTHER_FEATURES)
    movies = movies.unique(subset=ID, keep="first", maintain_order=True)
    test = np.zeros(movies.height, dtype=bool)
    test[np.random.default_rng(SEED).permutation(movies.height)[: round(TEST_SHARE * movies.height)]] = True
    return movies.with_columns(pl.Series("split", np.where(test, "test", "train"))).select(
        ID + ["split"] + LABEL + RATINGS + LF_FEATURES + OTHER_FEATURES
    )


if __name__ == "__main__":
    prepare(Path(sys.argv[1])).write_csv(Path(__file__).resolve().parent / "movies.csv")
