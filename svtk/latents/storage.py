"""Latent storage for lhotse: many ``.npy`` arrays appended to one file, read back by offset.

One file per split (no file-per-utterance explosion, no HDF5 dependency), registered with lhotse
as storage type ``svtk_npy_chunky``: ``storage_key`` is the byte offset of the array's ``.npy``
record inside ``storage_path``. Arrays are stored as they are given (fp16 for the default cache,
fp32 when lossless is asked for); reads slice frames on the first (time) axis without reading the
rest. Importing :mod:`svtk.latents` registers the reader; lhotse then resolves
``cut.load_custom("latent")`` / ``TemporalArray.load()`` through it.

Usage::

    with NpyChunkyWriter("data/latents/tag/storage/train.npyc") as w:
        key = w.write("rec1", array)            # -> "1234" (byte offset)
    NpyChunkyReader("data/latents/tag/storage/train.npyc").read(key)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lhotse.features.io import FeaturesReader, FeaturesWriter, register_reader, register_writer

from svtk.errors import UserError

STORAGE_TYPE = "svtk_npy_chunky"
# why a stored array may not be where its manifest says
_RELATIVE_HINT = ("Storage paths are as the extracting command was given them: relative ones "
                  "(egs recipes) resolve against the directory that command ran in; run from "
                  "there, or the storage was overwritten since the manifest was written.")


@register_writer
class NpyChunkyWriter(FeaturesWriter):
    name = STORAGE_TYPE

    def __init__(self, storage_path: str | Path, mode: str = "wb", *args, **kwargs):
        super().__init__()
        self._path = Path(storage_path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self._path, mode)

    @property
    def storage_path(self) -> str:
        return str(self._path)

    def write(self, key: str, value: np.ndarray) -> str:
        offset = self.file.tell()
        np.lib.format.write_array(self.file, np.ascontiguousarray(value), allow_pickle=False)
        return str(offset)

    def close(self) -> None:
        self.file.close()


@register_reader
class NpyChunkyReader(FeaturesReader):
    name = STORAGE_TYPE

    def __init__(self, storage_path: str | Path, *args, **kwargs):
        super().__init__()
        self.storage_path = Path(storage_path)

    def read(self, key: str, left_offset_frames: int = 0,
             right_offset_frames: int | None = None) -> np.ndarray:
        with open(self.storage_path, "rb") as f:
            f.seek(int(key))
            try:
                version = np.lib.format.read_magic(f)
            except ValueError as e:
                raise UserError(f"{self.storage_path}: no stored array at byte {key} ({e}). "
                                f"{_RELATIVE_HINT}") from None
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            assert not fortran, "svtk_npy_chunky stores C-ordered arrays"
            row = int(np.prod(shape[1:], dtype=np.int64))
            n = shape[0] if right_offset_frames is None else min(right_offset_frames, shape[0])
            left = min(max(left_offset_frames, 0), n)
            f.seek(left * row * dtype.itemsize, 1)
            data = np.fromfile(f, dtype=dtype, count=(n - left) * row)
        return data.reshape((n - left, *shape[1:]))


def load_cut_array(cut, field: str) -> np.ndarray:
    """The per-recording TemporalArray in ``cut.custom[field]`` as float32, sliced to the cut's
    span: a cut covering its whole recording reads every stored frame (exactly the frames the
    recording gives), a shorter one the frames of its time span. An array whose shape is not
    the one the manifest declares is an error (another storage file at the same path)."""
    arr = cut.custom[field]
    rec_dur = cut.recording.duration if cut.has_recording else None
    whole = cut.start == 0 and rec_dur is not None and abs(cut.duration - rec_dur) < 1e-3
    data = arr.load() if whole else arr.load(start=cut.start, duration=cut.duration)
    declared = tuple(arr.shape)
    if data.shape[1:] != declared[1:] or data.shape[0] > declared[0] or (
            whole and data.shape[0] != declared[0]):
        raise UserError(f"cut {cut.id}: its {field} at byte {arr.array.storage_key} of "
                        f"{arr.array.storage_path} has shape {tuple(data.shape)}, but the manifest "
                        f"says {declared}. {_RELATIVE_HINT}")
    return np.asarray(data, dtype=np.float32)
