"""Built-in metrics: per-frame SSIM, PSNR and L1, and FVD with a PyTorch port of I3D."""
