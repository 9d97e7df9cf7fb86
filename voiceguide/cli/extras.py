"""The sounds, the voices and the speech cache."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..config import ENGINES
from ..errors import UsageError
from ..names import valid
from .app import cli


@cli.command("sounds")
@click.argument("name", required=False)
@click.option("--play", "play_it", is_flag=True, help="Play the sound NAME.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the sound NAME to a .wav, .flac, .ogg, .mp3, .m4a or .m4b file.",
)
@click.option("--force", is_flag=True, help="Replace a read-only file (it stays read-only).")
def sounds_(name: str | None, play_it: bool, output: Path | None, force: bool) -> None:
    """List the sounds a routine can use and what each tells you, and the beds --ambience
    lays under a routine; play or export one (a bed: ten seconds of it, at its level).

    A routine file names sounds with { chime = "NAME" }; holds, breaths, sides and the start
    and end of each technique use them on their own.
    """
    from .. import sounds
    from ..ambience import BEDS

    if force and output is None:
        raise UsageError(
            "--force: nothing to replace without -o FILE; add -o FILE or leave --force out"
        )
    if name is None:
        if play_it or output:
            raise UsageError("name the sound to play or export, e.g. voiceguide sounds hold-end")
        for sound, meaning in sounds.NAMES.items():
            click.echo(f"{sound:<16} {meaning}")
        click.echo("\nBeds (--ambience NAME, under a whole routine):")
        for bed, sound in BEDS.items():
            click.echo(f"{bed:<16} {sound}")
        return
    known = {**sounds.NAMES, **BEDS}
    if name not in known:
        raise UsageError(f"no sound {name!r}{valid(name, known, 'sounds')}")
    if output is not None:
        api.export_sound(name, output, force=force)
        click.echo(f"wrote {output}")
    if play_it:
        _play_sound(name)
    if not (play_it or output):
        click.echo(f"{name}: {known[name]}")


def _play_sound(name: str) -> None:
    from ..sink import SimpleaudioSink

    sink = SimpleaudioSink()
    sink.check()
    playback = sink.play(api.sound_samples(name))
    while playback.is_playing():
        sink.clock.sleep(0.02)


@cli.command()
@click.option("--engine", type=click.Choice(ENGINES), default=None, help="Only this engine's.")
def voices(engine: str | None) -> None:
    """List the voices --voice accepts, engine by engine: id, name and languages."""
    from ..speech import list_voices, unavailable

    for name in [engine] if engine else ENGINES:
        reason = unavailable(name)
        if reason:
            click.echo(f"{name}: not available here ({reason})")
            continue
        click.echo(f"{name}:")
        for v in list_voices(name):
            click.echo(f"  {v.id:<28} {v.name:<44} {', '.join(v.languages)}")


@cli.group()
def cache() -> None:
    """Manage the cache: synthesized speech clips, and the listening model's copy."""


@cache.command("clear")
def cache_clear() -> None:
    """Delete every cached clip, and the listening model's copy (made again from the installed
    package the next time you listen)."""
    import shutil

    from ..cache import ClipCache
    from ..errors import CacheError
    from ..listen.transcriber import model_folder

    store = ClipCache()
    click.echo(f"removed {store.clear()} clip(s) from {store.directory}")
    folder = model_folder()
    if folder.exists():
        size = _size(folder)
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            raise CacheError(f"cannot remove {folder}: {exc.strerror or exc}") from None
        click.echo(f"removed the listening model's copy ({size / 1e6:.1f} MB) from {folder}")


def _size(folder: Path) -> int:
    """Bytes in the files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@cache.command("info")
def cache_info() -> None:
    """Show where the cache is, its size, its limit (config key cache_limit_mb) and entries.
    Past the limit, the least recently used clips are removed."""
    from ..cache import ClipCache

    info = ClipCache().info()
    click.echo(f"location: {info.directory}")
    click.echo(f"size: {info.bytes / 1e6:.1f} MB in {info.entries} clip(s)")
    click.echo(f"limit: {info.limit_bytes / 1e6:g} MB (config key cache_limit_mb)")
    from ..listen.transcriber import model_folder

    folder = model_folder()
    if folder.exists():
        size = _size(folder)
        click.echo(f"listening model: {size / 1e6:.1f} MB in {folder} (not counted in the limit)")
    else:
        click.echo("listening model: none (joined here the first time you listen: 145 MB)")
