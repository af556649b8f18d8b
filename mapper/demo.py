"""The Gradio interface: one loaded pipeline behind a Blocks page with two tabs and three named API endpoints.

API: generate(text, truncation=0.4, seed=-1, num_images=1, blend=0.5, per_image_classes=False,
resolution=<the default BigGAN's>) -> (images captioned with their classes, top-5 classes, seed used);
read(text) -> what the mapper read (mapper.reading.Reading.to_json: classes, group, words, outside);
morph(text_a, text_b, frames=24, truncation=0.4, seed=-1, seed_b=-1, resolution=...) -> (animated WebP, seed
used). seed -1 draws a random seed; seed_b -1 keeps the first seed's noise. The page reads the text first and
shows the reading beside the images. In the page, ticking "random seed" draws it in the browser before
/generate (no round trip to the server), so the seed box always shows the seed behind the images on screen.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable

import gradio as gr
from gradio.processing_utils import save_bytes_to_cache
from gradio.utils import get_upload_folder
from PIL import Image
from starlette.middleware import Middleware

from mapper.device import on_gpu
from mapper.fallback import LoadedPipeline
from mapper.gan import HUB_REPOS, MAX_SEED, BrokenImageError
from mapper.model_thread import on_model_thread
from mapper.morph import DEFAULT_FRAMES, MAX_FRAMES, morph_frames, to_webp
from mapper.pipeline import DEFAULT_BLEND, DEFAULT_TRUNCATION, MAX_IMAGES, TextToImagePipeline, is_whole
from mapper.reading import TOP_K, reading_note
from mapper.rest import CompleteRestCalls, endpoints
from mapper.revisions import is_hub_id

log = logging.getLogger(__name__)
RANDOM_SEED = -1
# Mixing stays the default: a seed saved before per-image classes existed draws the same image, and one image
# of a text read clearly (the default) looks alike either way; a class per image is for several images of a
# word covering many classes ("a dog"). See the README.
DEFAULT_PER_IMAGE_CLASSES = False
# Runs in the browser, sparing a round trip: with "random seed" ticked, a fresh seed goes into the seed box
# before /generate reads it.
PICK_SEED_JS = f"(seed, randomize) => randomize ? Math.floor(Math.random() * {MAX_SEED + 1}) : seed"
TRUNCATION_STEP = 0.02  # BigGAN stored batch-norm statistics on this grid
# One model on one device: requests take turns, and a turn uses every core; /generate and /morph share the turn.
CONCURRENCY_LIMIT = 1
BIGGAN_QUEUE = "biggan"
# Gradio rebuilds a pandas summary of the last GRADIO_ANALYTICS_MAX_EVENTS events (default 10,000) after every
# event, for its monitoring page: 8 ms at 2000 events, 16.5 at 10,000, taken from the cores the generator needs.
# The last 1000 events, summarised every 50, serve that page as well (docs/report.md, "Under load").
GRADIO_BOOKKEEPING = {"GRADIO_ANALYTICS_MAX_EVENTS": "1000", "GRADIO_ANALYTICS_CACHE_FREQUENCY": "50"}
EXAMPLES = [
    "I love my cat",
    "A red sports car on the highway",
    "The ship sailed across the ocean",
    "a golden retriever playing in the snow",
    "A bowl of fresh strawberries",
    "an old stone castle on a hill",
    "Mushrooms growing in the forest after the rain",
]
MORPH_EXAMPLES = [["a tabby cat", "a tiger"], ["a red sports car", "a yellow taxi"], ["a lighthouse", "a volcano"]]
THEME = gr.themes.Soft(primary_hue="orange")
Readout = dict[str, float]
Gallery = list[tuple[Image.Image, str]]


def checked_by_pipeline(component: gr.components.Component) -> gr.components.Component:
    """Let whatever an API client sends reach the pipeline, which refuses a bad value naming the setting ("number
    of images must be a whole number from 1 to 4, got 9", "seed must be ..., got a str"). Gradio's own checks say
    "Value 9 is greater than maximum value 4", or to a REST client only `{"error": null}`, and log a stack trace
    each time; a textbox would turn a number into text. The page's inputs send nothing else. (Set on the
    instance: Gradio writes a .pyi stub beside any module that subclasses a component.)"""
    component.preprocess = lambda payload: payload
    return component


def user_errors(run: Callable[[], object]) -> object:
    """`run()`, its bad input a gr.Error (a message for the person or client, and no stack trace), and so a
    broken image, which is never served (logged: the generator is at fault); anything else is a bug, and
    Gradio reports it without details."""
    try:
        return run()
    except ValueError as err:
        raise gr.Error(str(err), print_exception=False) from None
    except BrokenImageError as err:
        log.error("%s; not served", err)
        raise gr.Error("the generator made a broken image, which was not served: this server's BigGAN is at "
                       "fault, not your text", print_exception=False) from None


def seed_or_none(seed: int | None) -> int | None:
    return None if seed in (None, RANDOM_SEED) else seed


def announce_loading(pipeline: TextToImagePipeline, resolution: object) -> None:
    """Say in the page that the BigGAN for `resolution` loads now, on its first use (seconds; see README)."""
    biggans = pipeline.biggans
    if is_whole(resolution) and int(resolution) in biggans.names and not biggans.is_loaded(int(resolution)):
        gr.Info(f"Loading the {resolution} x {resolution} BigGAN ({biggans.names[int(resolution)]}): its first "
                "use here takes a while; it stays loaded for every request after.")


def make_generate(pipeline: TextToImagePipeline) -> Callable[..., tuple[Gallery, Readout, int]]:
    """The /generate handler; bad input and broken images become gr.Errors (user_errors). The models run on their
    own thread (mapper.model_thread). (Its API defaults are the page's components' values; those here serve a
    direct call.)"""
    draw = on_model_thread(pipeline)

    def generate(
        text: str,
        truncation: float = DEFAULT_TRUNCATION,
        seed: int = RANDOM_SEED,
        num_images: int = 1,
        blend: float = DEFAULT_BLEND,
        per_image_classes: bool = DEFAULT_PER_IMAGE_CLASSES,
        resolution: int | None = None,
    ) -> tuple[Gallery, Readout, int]:
        announce_loading(pipeline, resolution)
        out = user_errors(lambda: draw(
            text, truncation, seed_or_none(seed), num_images, blend, per_image_classes, resolution
        ))
        return list(zip(out.images, out.captions)), dict(out.classes), out.seed

    return on_gpu(generate)


def make_morph(pipeline: TextToImagePipeline) -> Callable[..., tuple[str, int]]:
    """The /morph handler: (the animated WebP's path, in Gradio's upload folder, and the seed used); bad input
    gets /generate's messages. The models run on their own thread, as /generate's do."""
    frames_of = on_model_thread(morph_frames)

    def morph(
        text_a: str,
        text_b: str,
        frames: int = DEFAULT_FRAMES,
        truncation: float = DEFAULT_TRUNCATION,
        seed: int = RANDOM_SEED,
        seed_b: int = RANDOM_SEED,
        resolution: int | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, int]:
        announce_loading(pipeline, resolution)
        images, used, _ = user_errors(lambda: frames_of(
            pipeline, text_a, text_b, frames, truncation, seed_or_none(seed), seed_or_none(seed_b), resolution,
            lambda share, what: progress(share, desc=what),
        ))
        return save_bytes_to_cache(to_webp(images), "morph.webp", get_upload_folder()), used

    return on_gpu(morph)


def make_read(pipeline: TextToImagePipeline) -> Callable[[str], dict]:
    """The /read handler: the reading as JSON; bad text becomes a gr.Error, as in /generate."""

    def read(text: str) -> dict:
        try:
            return pipeline.read(text).to_json()
        except ValueError as err:
            raise gr.Error(str(err), print_exception=False) from None

    return read


def show_reading(reading: dict | None) -> tuple[str, list[tuple[str, float]]]:
    """The page's view of a /read answer: a sentence (the group, or what ImageNet lacks) and the words
    shaded by weight."""
    if not reading:
        return "", []
    top = max((w for _, w in reading["words"]), default=1.0) or 1.0
    return reading_note(reading), [(word, round(w / top, 3)) for word, w in reading["words"]]


def hub_link(name: str) -> str:
    """Markdown link to a Hub repo for a Hub id or a known BigGAN name; a local folder stays plain."""
    repo = HUB_REPOS.get(name, name)
    if is_hub_id(repo):
        return f"[{name}](https://huggingface.co/{repo})"
    return f"`{name}`"


def description(loaded: LoadedPipeline) -> str:
    pipe = loaded.pipeline
    text = (
        "Type a sentence; BigGAN-deep draws it. **How it works:** text → the language model "
        f"{hub_link(pipe.encoder.name_or_path)} reads it (a hidden state per token) → a small learned "
        f"**mapper** ({hub_link(loaded.mapper)}) turns those into a distribution over ImageNet's 1000 classes "
        f"→ a mix of BigGAN's class vectors → {hub_link(pipe.generator.name_or_path)} draws it from seeded "
        "noise.\n\n"
        "It knows only ImageNet's classes: the readout shows which ones it read in your text. *Blend* 0 draws "
        "the top class; 1 mixes classes as the mapper weighs them (hybrids). *Truncation*: low gives typical, "
        "clean images; high gives varied, wilder ones."
    )
    if loaded.fallback:
        text += (
            f"\n\n> The mapper {loaded.mapper} could not be loaded, so this demo trained its own at start-up "
            f"(cached in `{loaded.fallback}`)."
        )
    return text


def resolution_control(pipeline: TextToImagePipeline) -> gr.Radio:
    """The image size, shown when there is a choice; an input in every case, so the API always takes it."""
    sizes = pipeline.biggans.sizes
    return checked_by_pipeline(gr.Radio(
        [(f"{size} x {size}", size) for size in sizes], value=pipeline.generator.image_size, label="Resolution",
        visible=len(sizes) > 1, info="pixels; larger takes longer, and the first use of a size loads its BigGAN",
    ))


def truncation_control() -> gr.Slider:
    return checked_by_pipeline(gr.Slider(
        TRUNCATION_STEP, 1, DEFAULT_TRUNCATION, step=TRUNCATION_STEP, label="Truncation",
        info="low: typical and clean; high: varied and wild",
    ))


def build_demo(loaded: LoadedPipeline) -> gr.Blocks:
    """The page, its events and the queue; models are those of `loaded`, shared by every request."""
    pipeline = loaded.pipeline
    with gr.Blocks(title="text2biggan") as demo:
        gr.Markdown("# text2biggan")
        gr.Markdown(description(loaded))
        with gr.Tab("Text to image"):
            with gr.Row():
                with gr.Column():
                    text = checked_by_pipeline(
                        gr.Textbox(label="Text", placeholder="A red sports car on the highway", lines=2)
                    )
                    button = gr.Button("Generate", variant="primary")
                    gr.Examples([[e] for e in EXAMPLES], inputs=[text], cache_examples=False)
                    resolution = resolution_control(pipeline)
                    truncation = truncation_control()
                    blend = checked_by_pipeline(gr.Slider(
                        0, 1, DEFAULT_BLEND, step=0.05, label="Class blend",
                        info="0: top class only; 1: hybrids (when the classes are mixed)",
                    ))
                    num_images = checked_by_pipeline(
                        gr.Slider(1, MAX_IMAGES, 1, step=1, precision=0, label="Number of images")
                    )
                    per_image_classes = checked_by_pipeline(gr.Checkbox(
                        DEFAULT_PER_IMAGE_CLASSES, label="a class per image",
                        info="each image draws its own class from the reading (\"a dog\": four breeds); "
                        "unticked, every image draws one mix of them",
                    ))
                    with gr.Row():
                        seed = checked_by_pipeline(gr.Number(
                            RANDOM_SEED, precision=0, label="Seed", info="the seed of the images shown; -1: random"
                        ))
                        randomize = gr.Checkbox(True, label="random seed", info="untick to keep the seed")
                with gr.Column():
                    gallery = gr.Gallery(
                        label="Images", format="png", columns=2, object_fit="contain", height="auto",
                        buttons=["download", "fullscreen"], elem_id="images",
                    )
                    note = gr.Markdown(elem_id="reading-note")
                    words = gr.HighlightedText(
                        label="Words the mapper weighed", show_legend=False, combine_adjacent=False, elem_id="words"
                    )
                    readout = gr.Label(num_top_classes=TOP_K, label=f"Top-{TOP_K} classes", elem_id="readout")
                    with gr.Accordion("Reading (JSON, as /read gives it)", open=False):
                        reading = gr.JSON(elem_id="reading")
        with gr.Tab("Morph"):
            gr.Markdown("From one text's image to another's: BigGAN walks its class space between them (and its "
                        "noise between two seeds, when a second is given).")
            with gr.Row():
                with gr.Column():
                    text_a = checked_by_pipeline(gr.Textbox(label="From", placeholder="a tabby cat"))
                    text_b = checked_by_pipeline(gr.Textbox(label="To", placeholder="a tiger"))
                    morph_button = gr.Button("Morph", variant="primary")
                    gr.Examples(MORPH_EXAMPLES, inputs=[text_a, text_b], cache_examples=False)
                    frames = checked_by_pipeline(gr.Slider(
                        2, MAX_FRAMES, DEFAULT_FRAMES, step=1, precision=0, label="Frames", info="12.5 a second",
                        elem_id="morph-frames",
                    ))
                    morph_resolution = resolution_control(pipeline)
                    morph_truncation = truncation_control()
                    with gr.Row():
                        morph_seed = checked_by_pipeline(gr.Number(RANDOM_SEED, precision=0, label="Seed", info="-1: random"))
                        seed_b = checked_by_pipeline(gr.Number(
                            RANDOM_SEED, precision=0, label="Second seed", info="-1: the first seed's noise throughout"
                        ))
                with gr.Column():
                    animation = gr.Image(type="filepath", label="Morph", format="webp", elem_id="morph")
                    morph_seed_used = gr.Number(label="Seed used", precision=0, interactive=False)
        gr.on(
            [button.click, text.submit], None, [seed, randomize], seed, js=PICK_SEED_JS,
            queue=False, api_visibility="private", show_progress="hidden",
        ).then(
            make_read(pipeline), [text], [reading], api_name="read", show_progress="hidden",
        ).success(
            # through the queue (it asks nothing of /run/predict), but never waiting behind a generation
            show_reading, [reading], [note, words], concurrency_limit=None, api_visibility="private", show_progress="hidden",
        ).success(
            make_generate(pipeline), [text, truncation, seed, num_images, blend, per_image_classes, resolution],
            [gallery, readout, seed], api_name="generate", show_progress_on=[gallery, readout],
            concurrency_id=BIGGAN_QUEUE,
        )
        gr.on(
            [morph_button.click, text_a.submit, text_b.submit], make_morph(pipeline),
            [text_a, text_b, frames, morph_truncation, morph_seed, seed_b, morph_resolution], [animation, morph_seed_used],
            api_name="morph", concurrency_id=BIGGAN_QUEUE,
        )
    for variable, value in GRADIO_BOOKKEEPING.items():  # read when the queue is made; a variable set wins
        os.environ.setdefault(variable, value)
    return demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT)


def launch(demo: gr.Blocks, host: str, port: int, **options) -> None:
    """Serve until stopped (or as `options` for demo.launch say); Gradio 6 takes the theme here, not in Blocks().
    REST calls pass through mapper.rest first, so a curl call with only the text gets the defaults."""
    rest = Middleware(CompleteRestCalls, endpoints=endpoints(demo))
    demo.launch(server_name=host, server_port=port, theme=THEME, app_kwargs={"middleware": [rest]}, **options)
