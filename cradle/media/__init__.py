"""The media pipeline. It imports no Django: frames and settings in, frames, segments and numbers out."""
