"""The plugin's own tests: the discriminator contract from vidgan_kit.testing, in three lines."""

from vidgan_kit.testing import check_component


def test_discriminator_contract() -> None:
    check_component("discriminator", "frame_difference_video_discriminator")


def test_contract_without_spectral_norm() -> None:
    check_component("discriminator", "frame_difference_video_discriminator", {"spectral_norm": False, "layers": 2})
