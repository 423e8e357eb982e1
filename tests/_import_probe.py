# Parsed (never imported) by test_architecture.py to prove the import checker works.
from vidgan_builtin.networks import plugin  # noqa: F401
from vidgan_dual_mtgan.sprite_decoder import SpriteFrameDecoder  # noqa: F401
