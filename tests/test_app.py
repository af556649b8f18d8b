"""app.py served for real in its own process (see the app_server fixture), called with gradio_client and as
a curl user calls its REST API."""
import io
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from mapper import device
from mapper.biggans import DEFAULT_BIGGANS
from mapper.demo import GRADIO_BOOKKEEPING, build_demo, description, launch, make_generate
from mapper.device import on_gpu
from mapper.fallback import DEFAULT_MAPPER, LoadedPipeline
from mapper.revisions import Revisions, read_pins
from mapper.fingerprint import tensor_sha256
from mapper.gan import Generator
from mapper.models import Mapper, MapperConfig
from mapper.pipeline import TextToImagePipeline
from mapper.reading import class_groups, class_names
from mapper.testing import free_port

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def client(app_server, tmp_path_factory) -> Client:
    url, _ = app_server
    return Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def generate(client: Client, text: str, **settings):
    return client.predict(text, **settings, api_name="/generate")


def image_bytes(images: list[dict]) -> list[bytes]:
    return [Path(item["image"]).read_bytes() for item in images]


def test_api_has_three_endpoints_with_named_parameters_and_defaults(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/generate", "/read", "/morph"} and not api["unnamed_endpoints"]
    assert [p["parameter_name"] for p in api["named_endpoints"]["/read"]["parameters"]] == ["text"]
    params = api["named_endpoints"]["/generate"]["parameters"]
    assert [p["parameter_name"] for p in params] == [
        "text", "truncation", "seed", "num_images", "blend", "per_image_classes", "resolution",
    ]  # the first five as before this API had the last two: calls made then mean the same
    assert [p["parameter_has_default"] for p in params] == [False] + [True] * 6
    assert [p["parameter_default"] for p in params[1:]] == [0.4, -1, 1, 0.5, False, 128]
    params = api["named_endpoints"]["/morph"]["parameters"]
    assert [p["parameter_name"] for p in params] == [
        "text_a", "text_b", "frames", "truncation", "seed", "seed_b", "resolution",
    ]
    assert [p["parameter_default"] for p in params[2:]] == [24, 0.4, -1, -1, 128]


def test_text_alone_gives_a_png_and_the_right_class(client):
    images, readout, seed = generate(client, "a tabby cat")
    assert len(images) == 1 and Path(images[0]["image"]).suffix == ".png"
    with Image.open(images[0]["image"]) as image:
        assert image.format == "PNG" and image.size == (128, 128) and image.mode == "RGB"
    assert readout["label"] in CATS
    confidences = [c["confidence"] for c in readout["confidences"]]
    assert len(confidences) == 5 and confidences == sorted(confidences, reverse=True)
    assert isinstance(seed, int) and 0 <= seed < 2**32  # seed -1 (the default) drew one and says which


def test_same_seed_same_bytes_and_a_drawn_seed_reproduces(client):
    first, _, seed = generate(client, "A red sports car on the highway", seed=1234, num_images=4)
    again, readout, _ = generate(client, "A red sports car on the highway", seed=1234, num_images=4)
    assert seed == 1234 and len(first) == 4 and image_bytes(first) == image_bytes(again)
    assert readout["label"] == "sports car"
    other, _, _ = generate(client, "A red sports car on the highway", seed=1235, num_images=4)
    assert image_bytes(other) != image_bytes(first)

    drawn, _, drawn_seed = generate(client, "a taxi", seed=-1)
    assert image_bytes(generate(client, "a taxi", seed=drawn_seed)[0]) == image_bytes(drawn)


def test_settings_change_the_picture(client):
    base = image_bytes(generate(client, "my cat", seed=5, truncation=0.4, blend=0.5)[0])
    assert image_bytes(generate(client, "my cat", seed=5, truncation=1.0, blend=0.5)[0]) != base
    assert image_bytes(generate(client, "my cat", seed=5, truncation=0.4, blend=0.0)[0]) != base


@pytest.mark.parametrize("text", ["我的猫在睡觉", "🐱🐱🐱", "Ο γάτος κοιμάται 😴"])
def test_any_script_or_emoji_still_draws(client, text):
    images, readout, _ = generate(client, text)
    assert len(images) == 1 and len(readout["confidences"]) == 5


@pytest.mark.parametrize(
    "text, settings, message",
    [
        ("", {}, "please type some text"),
        ("   \n ", {}, "please type some text"),
        ("\u200b\x00\ufeff", {}, "please type some text"),  # invisible characters only
        ("x" * 10_000, {}, "text is 10,000 characters; keep it under 1,000"),
        ("a cat", {"truncation": 0}, "truncation must be a number in (0, 1], got 0"),
        ("a cat", {"truncation": 1.5}, "truncation must be a number in (0, 1], got 1.5"),
        ("a cat", {"seed": -7}, "seed must be a whole number from 0 to 4,294,967,295, got -7"),
        ("a cat", {"seed": 2**40}, f"got {2**40}"),
        ("a cat", {"num_images": -2}, "number of images must be a whole number from 1 to 4, got -2"),
        ("a cat", {"num_images": 0}, "number of images must be a whole number from 1 to 4, got 0"),
        ("a cat", {"num_images": 10**6}, "got 1000000"),
        ("a cat", {"num_images": 2.5}, "got 2.5"),
        ("a cat", {"blend": 2}, "blend must be a number in [0, 1], got 2"),
        ("a cat", {"truncation": "wild"}, "truncation must be a number in (0, 1], got a str"),
        ("a cat", {"resolution": 300}, "resolution must be one of 128, 256, got 300"),
        ("a cat", {"resolution": "256"}, "resolution must be one of 128, 256, got a str"),
        ("a cat", {"per_image_classes": "yes"}, "per_image_classes must be true or false, got a str"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(client, text, settings, message):
    with pytest.raises(AppError) as err:
        generate(client, text, **settings)
    assert message in str(err.value) and "Traceback" not in str(err.value)
    images, readout, _ = generate(client, "a tabby cat", seed=1)
    assert len(images) == 1 and readout["label"] in CATS


def test_sixteen_concurrent_calls_all_return(client):
    def call(seed: int):
        return client.submit("a golden retriever", 0.4, seed, 1, 0.5, api_name="/generate").result(timeout=300)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(16)))
    assert [seed for _, _, seed in results] == list(range(16))
    assert all(len(images) == 1 and Path(images[0]["image"]).is_file() for images, _, _ in results)


def test_server_log_shows_no_stack_trace_for_bad_input_and_one_load_for_all_calls(app_server, client):
    _, log = app_server
    with pytest.raises(AppError):
        generate(client, "   ")
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("pipeline ready on cpu: mapper ") == 1  # models loaded once, shared by every call


# --- the REST API, as a curl user calls it ----------------------------------------------------------------


def rest_call(url: str, body: dict, named: bool = False) -> tuple[int, str, object]:
    """POST /gradio_api/call[/v2]/generate, then read the event stream: (status of the POST, last event, its
    data); the POST's JSON reply stands for the event when it was refused."""
    with httpx.Client(base_url=url + "gradio_api/", timeout=120) as http:
        # as curl sends it: escaped, so that a lone surrogate travels too
        content, headers = json.dumps(body), {"Content-Type": "application/json"}
        posted = http.post("call/v2/generate" if named else "call/generate", content=content, headers=headers)
        if posted.status_code != 200:
            return posted.status_code, "refused", posted.json()
        event, data = None, None
        with http.stream("GET", f"call/generate/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line[5:])
                    break
        return posted.status_code, event, data


def fetched_png(url: str, data: list) -> Image.Image:
    gallery = data[0]
    assert len(gallery) == 1
    image = Image.open(io.BytesIO(httpx.get(gallery[0]["image"]["url"], timeout=60).content))
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize("named", [False, True], ids=["data list", "v2 named"])
def test_rest_call_with_only_the_text_answers_with_an_image_and_the_defaults(app_server, named):
    url, _ = app_server
    status, event, data = rest_call(url, {"text": "a tabby cat"} if named else {"data": ["a tabby cat"]}, named)
    assert (status, event) == (200, "complete")
    assert fetched_png(url, data).size == (128, 128)
    _, readout, seed = data
    assert readout["label"] in CATS and isinstance(seed, int) and 0 <= seed < 2**32  # seed -1: drawn
    _, _, again = rest_call(url, {"data": ["a tabby cat", 0.4, seed]})  # defaults after it: same images
    assert again[2] == seed and fetched_png(url, again).tobytes() == fetched_png(url, data).tobytes()


@pytest.mark.parametrize(
    "body, named, message",
    [
        ({"data": ["a cat", 0.4, 1, 1, 0.5, False, 128, 7]}, False, "7 values at most, got 8"),
        ({"data": []}, False, "no value for text, which has no default"),
        ({"seed": 3}, True, "no value for text, which has no default"),
        ({"text": "a cat", "steps": 50}, True, "no parameter named 'steps'"),
    ],
)
def test_rest_calls_that_cannot_be_answered_are_refused_naming_what_is_wrong(app_server, body, named, message):
    status, event, data = rest_call(app_server[0], body, named)
    assert (status, event) == (422, "refused")
    assert data["detail"] == (
        "/generate takes [text, truncation=0.4, seed=-1, num_images=1, blend=0.5, per_image_classes=false, "
        f"resolution=128]: {message}"
    )


@pytest.mark.parametrize(
    "values, message",
    [
        (["a cat", 0.4, "abc"], "seed must be a whole number from 0 to 4,294,967,295, got a str"),
        (["a cat", None], "truncation must be a number in (0, 1], got a NoneType"),
        (["a cat", 0.4, -1, "2"], "number of images must be a whole number from 1 to 4, got a str"),
        ([5], "text must be a string, got 5"),
        (["\ud800"], "please type some text"),  # a lone surrogate, which the tokenizer cannot encode: removed
    ],
)
def test_rest_values_of_the_wrong_type_get_a_message_naming_the_setting(app_server, values, message):
    status, event, data = rest_call(app_server[0], {"data": values})
    assert (status, event) == (200, "error") and data["error"] == message


def test_server_log_shows_no_stack_trace_for_bad_rest_calls(app_server):
    url, log = app_server
    rest_call(url, {"data": []})
    rest_call(url, {"data": ["a cat", 0.4, "abc"]})
    assert "Traceback" not in log.read_text()


# --- nothing broken is served ----------------------------------------------------------------------------


@pytest.fixture
def random_mapper_dir(tmp_path, minilm, tiny_biggan_dir) -> Path:
    """An untrained mapper for all-MiniLM-L6-v2 and the tiny BigGAN: it loads, and draws something."""
    z = Generator.from_pretrained(tiny_biggan_dir).class_embeddings
    config = MapperConfig("linear", minilm.hidden_size, "minilm", minilm.fingerprint, "tiny", tensor_sha256(z))
    return Mapper(config, z).save_pretrained(tmp_path / "mapper")


def encoder_copy(minilm_path: str, folder: Path, leave_out: tuple[str, ...] = ()) -> Path:
    """all-MiniLM-L6-v2's files, linked, but for those left out."""
    folder.mkdir()
    for file in Path(minilm_path).iterdir():
        if file.is_file() and file.name not in leave_out:
            (folder / file.name).symlink_to(file)
    return folder


def cut_short(file: Path) -> Path:
    data = file.read_bytes()
    file.unlink()  # a link: write a file of its own
    file.write_bytes(data[: len(data) // 2])
    return file


def nan_biggan(tiny_biggan_dir: Path, folder: Path) -> Path:
    shutil.copytree(tiny_biggan_dir, folder)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    state["generator.bn.weight"].fill_(float("nan"))  # what the package's uninitialised final batch norm can hold
    torch.save(state, folder / "pytorch_model.bin")
    return folder


@pytest.mark.parametrize(
    "broken", ["biggan", "mapper", "encoder tokenizer", "encoder weights", "encoder weights cut short"]
)
def test_a_broken_checkpoint_is_refused_at_start_with_one_line(
    broken, random_mapper_dir, minilm_path, tiny_biggan_dir, tmp_path, monkeypatch, capsys
):
    import app

    monkeypatch.setenv("TEXT2BIGGAN_HOME", str(tmp_path / "cache"))
    mapper, biggan, encoder = random_mapper_dir, tiny_biggan_dir, minilm_path
    if broken == "biggan":
        biggan = nan_biggan(tiny_biggan_dir, tmp_path / "biggan")
        expected = f"BigGAN {biggan}: its image for a fixed input is broken (3,072 of 3,072 values are not finite)"
    elif broken == "mapper":
        cut_short(mapper / "model.safetensors")
        expected = f"mapper file {mapper / 'model.safetensors'} cannot be read"
    elif broken == "encoder tokenizer":
        encoder = encoder_copy(minilm_path, tmp_path / "encoder", ("tokenizer.json", "vocab.txt"))
        expected = f"text encoder {encoder}: its tokenizer has no vocabulary"
    elif broken == "encoder weights":
        encoder = encoder_copy(minilm_path, tmp_path / "encoder", ("model.safetensors",))
        expected = f"could not load text encoder folder {encoder}: Error no file named model.safetensors"
    else:
        encoder = encoder_copy(minilm_path, tmp_path / "encoder")
        cut_short(encoder / "model.safetensors")
        expected = f"could not load text encoder folder {encoder}: Error while deserializing header"
    assert app.main(["--mapper", str(mapper), "--biggan", str(biggan), "--encoder", str(encoder)]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"app: error: {expected}"), err
    assert "Traceback" not in err and not (tmp_path / "cache").exists()


def test_a_generator_broken_after_load_answers_an_error_not_a_black_image(
    random_mapper_dir, minilm, tiny_biggan_dir, tmp_path, monkeypatch
):
    generator = Generator.from_pretrained(tiny_biggan_dir)
    pipeline = TextToImagePipeline(minilm, Mapper.from_pretrained(random_mapper_dir), generator)
    demo = build_demo(LoadedPipeline(pipeline, str(random_mapper_dir)))
    port = free_port()
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path))
        assert len(generate(client, "a cat")[0]) == 1
        network = generator.network
        monkeypatch.setattr(generator, "network", lambda cond, truncation: network(cond, truncation) * float("nan"))
        with pytest.raises(AppError, match="the generator made a broken image, which was not served"):
            generate(client, "a cat")
    finally:
        demo.close()


@pytest.mark.parametrize("set_by_user", [False, True])
def test_gradio_summarises_fewer_events_less_often_unless_told_otherwise(
    random_mapper_dir, minilm, tiny_biggan_dir, monkeypatch, set_by_user
):
    """Gradio's queue reads these variables when it is made; its attributes are the only place they show."""
    for variable in GRADIO_BOOKKEEPING:
        monkeypatch.setenv(variable, "7") if set_by_user else monkeypatch.delenv(variable, raising=False)
    pipeline = TextToImagePipeline(minilm, Mapper.from_pretrained(random_mapper_dir), Generator.from_pretrained(tiny_biggan_dir))
    queue = build_demo(LoadedPipeline(pipeline, str(random_mapper_dir)))._queue
    expected = (7, 7) if set_by_user else (1000, 50)
    assert (queue.ANALYTICS_MAX_EVENTS, queue.ANAYLTICS_CACHE_FREQUENCY) == expected
    for variable in GRADIO_BOOKKEEPING:  # set by build_demo; monkeypatch then puts back whatever was there before
        os.environ.pop(variable, None)


def test_help_names_every_flag_and_its_variable(capsys):
    import app

    with pytest.raises(SystemExit) as exit_:
        app.parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in ("--mapper", "MAPPER", "--biggan", "BIGGAN", "--encoder", "ENCODER", "GRADIO_SERVER_NAME",
                 "GRADIO_SERVER_PORT", "--mapper-revision", "MAPPER_REVISION", "--encoder-revision", "ENCODER_REVISION",
                 "--biggan-revision", "BIGGAN_REVISION", "revisions.json"):
        assert word in out


def test_a_missing_mapper_folder_stops_with_a_message_not_a_trace(tmp_path, monkeypatch, capsys):
    import app

    monkeypatch.setenv("TEXT2BIGGAN_HOME", str(tmp_path / "cache"))
    assert app.main(["--mapper", str(tmp_path / "no-such-mapper")]) == 1
    err = capsys.readouterr().err
    assert "app: error: mapper folder not found" in err and "Traceback" not in err
    assert not (tmp_path / "cache").exists()  # no fallback training for a typo


def test_defaults_and_environment(monkeypatch):
    import app

    for name in ("MAPPER", "BIGGAN", "ENCODER", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    args = app.parse_args([])
    assert (args.mapper, args.biggan, args.encoder) == (None, DEFAULT_BIGGANS["cpu"], None)  # no GPU here; fallback.default_mapper's
    assert DEFAULT_BIGGANS == {
        "cpu": "biggan-deep-256,biggan-deep-128,biggan-deep-512", "cuda": "biggan-deep-512,biggan-deep-256,biggan-deep-128",
    }
    assert DEFAULT_MAPPER == "text2biggan/mapper-minilm-biggan-deep-128"
    assert (args.host, args.port) == ("0.0.0.0", 7860)
    monkeypatch.setenv("MAPPER", "./mine")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8080")
    args = app.parse_args(["--biggan", "biggan-deep-256"])
    assert (args.mapper, args.biggan, args.port) == ("./mine", "biggan-deep-256", 8080)


def test_revisions_default_to_the_pins_and_a_flag_or_variable_overrides(monkeypatch):
    import app

    for part in ("MAPPER", "ENCODER", "BIGGAN"):
        monkeypatch.delenv(f"{part}_REVISION", raising=False)
    seen = {}

    def load_pipeline(*args, revisions):
        seen["r"] = revisions
        raise SystemExit(0)  # stopped before loading anything

    monkeypatch.setattr(app, "load_pipeline", load_pipeline)
    with pytest.raises(SystemExit):
        app.main([])
    assert seen["r"] == Revisions(read_pins()) and seen["r"].of("mapper", DEFAULT_MAPPER) == read_pins()[DEFAULT_MAPPER]
    monkeypatch.setenv("MAPPER_REVISION", "abc123")
    monkeypatch.setenv("BIGGAN_REVISION", "v2")
    with pytest.raises(SystemExit):
        app.main(["--encoder-revision", "e1"])
    assert seen["r"] == Revisions(read_pins(), "abc123", "e1", "v2")


def test_generation_runs_under_spaces_gpu_only_where_spaces_exists(monkeypatch):
    def fn() -> None: ...

    assert device.spaces is None and on_gpu(fn) is fn  # `spaces` is not installed here
    monkeypatch.setattr(device, "spaces", SimpleNamespace(GPU=lambda f: ("on a ZeroGPU", f)))
    assert on_gpu(fn) == ("on a ZeroGPU", fn)
    assert make_generate(SimpleNamespace())[0] == "on a ZeroGPU"  # the handler the page and API call


def parts_named(encoder: str, biggan: str) -> SimpleNamespace:
    """Stand-in for a pipeline where only the names of its parts matter."""
    named = SimpleNamespace
    return named(encoder=named(name_or_path=encoder), generator=named(name_or_path=biggan))


def test_description_links_the_hub_repos_and_says_when_it_fell_back(tmp_path):
    hub = parts_named("sentence-transformers/all-MiniLM-L6-v2", "biggan-deep-128")
    text = description(LoadedPipeline(hub, DEFAULT_MAPPER))
    for repo in (DEFAULT_MAPPER, "osanseviero/BigGAN-deep-128", "sentence-transformers/all-MiniLM-L6-v2"):
        assert f"(https://huggingface.co/{repo})" in text
    assert "could not be loaded" not in text
    fell_back = description(LoadedPipeline(hub, DEFAULT_MAPPER, tmp_path / "trained"))
    assert f"The mapper {DEFAULT_MAPPER} could not be loaded" in fell_back and f"`{tmp_path / 'trained'}`" in fell_back
    local = description(LoadedPipeline(parts_named("/models/minilm", "./biggan"), "./mapper"))
    assert "`/models/minilm`" in local and "`./biggan`" in local and "`./mapper`" in local and "https://" not in local


def test_read_says_what_the_text_names_and_generate_keeps_three_outputs(client):
    woman = client.predict("a woman", api_name="/read")
    cat = client.predict("My tabby cat is asleep on the sofa", api_name="/read")
    assert list(woman) == list(cat) == ["text", "classes", "group", "words", "outside"]
    assert woman["outside"] is True and cat["outside"] is False
    assert cat["classes"][0][1] in CATS and max(cat["words"], key=lambda w: w[1])[0] in {"tabby", "cat"}
    images, readout, seed = generate(client, "a woman", seed=3)
    assert len(images) == 1 and readout["label"] == woman["classes"][0][1] and seed == 3
    with pytest.raises(AppError, match="please type some text"):
        client.predict("  ", api_name="/read")


# --- resolutions, a class per image, morphs ----------------------------------------------------------------


def test_one_mapper_serves_128_and_256_and_the_256_biggan_loads_on_first_use(app_server, client):
    _, log = app_server
    narrow_256 = "narrow-256"  # in the folder's name, which the log line of a loaded BigGAN names

    def loaded_lines() -> list[str]:
        return [line for line in log.read_text().splitlines() if "generator" in line and narrow_256 in line]

    assert not loaded_lines()  # not at start
    for resolution, size in ((256, 256), (None, 128), (128, 128), (256, 256)):
        settings = {} if resolution is None else {"resolution": resolution}
        images, readout, _ = generate(client, "a tabby cat", seed=3, **settings)
        with Image.open(images[0]["image"]) as image:
            assert image.format == "PNG" and image.size == (size, size)
        assert readout["label"] in CATS and images[0]["caption"] == readout["label"]  # mixing: the top class
    assert len(loaded_lines()) == 1  # loaded on its first use, then kept


def test_a_class_per_image_draws_four_dog_breeds_the_same_for_the_same_seed(client):
    dogs = {class_names()[i] for i in dict(class_groups())["dog"]}
    images, readout, seed = generate(client, "a dog", seed=2024, num_images=4, per_image_classes=True)
    captions = [item["caption"] for item in images]
    assert seed == 2024 and len(set(captions)) == 4 and len(set(captions) & dogs) >= 3, captions
    again, _, _ = generate(client, "a dog", seed=2024, num_images=4, per_image_classes=True)
    assert [item["caption"] for item in again] == captions and image_bytes(again) == image_bytes(images)
    mixed, _, _ = generate(client, "a dog", seed=2024, num_images=4)
    assert [item["caption"] for item in mixed] == [readout["label"]] * 4  # mixing: one vector, the top class named


def morph(client: Client, *values, **settings):
    return client.predict(*values, **settings, api_name="/morph")


def frames_of(path: str) -> list:
    with Image.open(path) as animation:
        assert animation.format == "WEBP" and animation.is_animated
        frames = []
        for index in range(animation.n_frames):
            animation.seek(index)
            frames.append(np.asarray(animation.convert("RGB"), dtype=np.int16))
        return frames


def png_pixels(images: list[dict]) -> np.ndarray:
    with Image.open(images[0]["image"]) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("seed_b", [-1, 8], ids=["one seed", "two seeds"])
def test_morph_plays_the_frames_asked_from_one_text_s_image_to_the_other_s(client, seed_b):
    path, seed = morph(client, "a tabby cat", "A red sports car on the highway", frames=7, seed=7, seed_b=seed_b)
    frames = frames_of(path)
    assert Path(path).suffix == ".webp" and seed == 7 and len(frames) == 7 and frames[0].shape == (128, 128, 3)
    start = png_pixels(generate(client, "a tabby cat", seed=7)[0])
    end = png_pixels(generate(client, "A red sports car on the highway", seed=7 if seed_b == -1 else seed_b)[0])
    error = lambda a, b: float(np.abs(a - b).mean())
    # lossless WebP: the ends are the two images but for the rounding of a batch of frames (a level at most)
    assert np.abs(frames[0] - start).max() <= 1 and np.abs(frames[-1] - end).max() <= 1
    assert error(frames[0], end) > 1 and error(frames[3], start) > 0.5 and error(frames[3], end) > 0.5


def test_morph_with_only_the_texts_draws_a_seed_and_the_default_frames(client):
    path, seed = morph(client, "a lighthouse", "a volcano")
    assert len(frames_of(path)) == 24 and 0 <= seed < 2**32


@pytest.mark.parametrize(
    "values, message",
    [
        (["", "a dog"], "please type some text"),
        (["a cat", "  \u200b"], "please type some text"),
        (["a cat", "a dog", 1], "frames must be a whole number from 2 to 60, got 1"),
        (["a cat", "a dog", 61], "frames must be a whole number from 2 to 60, got 61"),
        (["a cat", "a dog", 2.5], "got 2.5"),
        (["a cat", "a dog", 4, 0], "truncation must be a number in (0, 1], got 0"),
        (["a cat", "a dog", 4, 0.4, -7], "seed must be a whole number from 0 to 4,294,967,295, got -7"),
        (["a cat", "a dog", 4, 0.4, 1, 2**33], f"got {2**33}"),
        (["a cat", "a dog", 4, 0.4, 1, 2, 64], "resolution must be one of 128, 256, got 64"),
    ],
)
def test_morph_refuses_bad_input_with_generate_s_messages(client, values, message):
    with pytest.raises(AppError) as err:
        morph(client, *values)
    assert message in str(err.value) and "Traceback" not in str(err.value)


def test_a_regression_mapper_is_refused_for_another_biggan_s_z_at_start(
    random_mapper_dir, minilm_path, narrow_biggan_dirs, tmp_path, monkeypatch, capsys
):
    import app

    monkeypatch.setenv("TEXT2BIGGAN_HOME", str(tmp_path / "cache"))
    args = ["--mapper", str(random_mapper_dir), "--biggan", str(narrow_biggan_dirs[128]), "--encoder", minilm_path]
    assert app.main(args) == 1
    err = capsys.readouterr().err
    assert "app: error: this mapper targets the class embeddings of 'tiny'; the BigGAN given has different ones" in err
