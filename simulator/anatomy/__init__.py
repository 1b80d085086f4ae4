"""The parametric vertebra phantom: analytic shapes (``geometry``) rasterised to voxels."""
