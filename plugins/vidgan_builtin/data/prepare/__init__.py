"""Turning public data sets, as their publishers distribute them, into the toolkit's formats.

One function per data set, each writing a folder with a ``manifest.json`` (see
:mod:`.manifest`) that :func:`verify_prepared` re-checks later:

=============  =====================================  ============================================
data set       source                                 output (read by)
=============  =====================================  ============================================
``weizmann``   ``person_action.avi``, 180×144         ``<action>/<clip>.png`` strips
                                                      (``frame_strips``, ``split_mode="by_time"``)
``uva_nemo``   ``.mp4`` smiles, 1920×1080             ``{train,test}/<video>_<k>.png`` 16-frame
                                                      strips (``frame_strips``, ``by_folder``)
``bair``       ``{train,test}/traj_*.tfrecords``      ``{train,test}/<file>.npy`` [N, 30, 64, 64, 3]
                                                      (``numpy_arrays``, ``by_folder``)
=============  =====================================  ============================================

The command line is ``vidgan data prepare weizmann|uva-nemo|bair SRC OUT``.
"""

from __future__ import annotations

from .bair import BairOptions, prepare_bair
from .manifest import MANIFEST, Problem, read_manifest, verify_prepared
from .uva_nemo import NemoOptions, prepare_uva_nemo
from .weizmann import WeizmannOptions, prepare_weizmann

__all__ = [
    "MANIFEST",
    "BairOptions",
    "NemoOptions",
    "Problem",
    "WeizmannOptions",
    "prepare_bair",
    "prepare_uva_nemo",
    "prepare_weizmann",
    "read_manifest",
    "verify_prepared",
]
