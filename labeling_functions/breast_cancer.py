"""Six numeric LFs for the breast-cancer pipeline (pipelines/breast_cancer.toml): thresholds on cell-nucleus
measurements, each voting one diagnosis where a measurement is clearly high or low (written on the train
split; the test split is only scored).  They read five of the 30 columns; the end model learns from the
other 25."""

from weaksup.vectorized import in_range

MALIGNANT, BENIGN = 0, 1

large_nuclei = in_range("large_nuclei", "worst_radius", MALIGNANT, low=17.0)
small_nuclei = in_range("small_nuclei", "worst_radius", BENIGN, high=13.0)
many_concave_points = in_range("many_concave_points", "worst_concave_points", MALIGNANT, low=0.15)
few_concave_points = in_range("few_concave_points", "mean_concave_points", BENIGN, high=0.03)
concave = in_range("concave", "mean_concavity", MALIGNANT, low=0.15)
smooth_texture = in_range("smooth_texture", "mean_texture", BENIGN, high=15.0)
