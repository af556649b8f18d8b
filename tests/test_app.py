"""app.py served for real in its own process (see the app_server fixture), called with gradio_client and as
a curl user calls its REST API."""
import io
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from mapper import device
from mapper.demo import build_demo, description, launch, make_generate
from mapper.device import on_gpu
from mapper.fallback import DEFAULT_MAPPER, LoadedPipeline
from mapper.fingerprint import tensor_sha256
from mapper.gan import Generator
from mapper.models import Mapper, MapperConfig
from mapper.pipeline import TextToImagePipeline
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


def test_api_has_two_endpoints_with_named_parameters_and_defaults(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/generate", "/read"} and not api["unnamed_endpoints"]
    assert [p["parameter_name"] for p in api["named_endpoints"]["/read"]["parameters"]] == ["text"]
    params = api["named_endpoints"]["/generate"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["text", "truncation", "seed", "num_images", "blend"]
    assert [p["parameter_has_default"] for p in params] == [False, True, True, True, True]
    assert [p["parameter_default"] for p in params[1:]] == [0.4, -1, 1, 0.5]


def test_text_alone_gives_a_png_and_the_right_class(client):
    images, readout, seed = generate(client, "a tabby cat")
    assert len(images) == 1 and Path(images[0]["image"]).suffix == ".png"
    with Image.open(images[0]["image"]) as image:
        assert image.format == "PNG" and image.size == (32, 32) and image.mode == "RGB"
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
    assert fetched_png(url, data).size == (32, 32)
    _, readout, seed = data
    assert readout["label"] in CATS and isinstance(seed, int) and 0 <= seed < 2**32  # seed -1: drawn
    _, _, again = rest_call(url, {"data": ["a tabby cat", 0.4, seed]})  # defaults after it: same images
    assert again[2] == seed and fetched_png(url, again).tobytes() == fetched_png(url, data).tobytes()


@pytest.mark.parametrize(
    "body, named, message",
    [
        ({"data": ["a cat", 0.4, 1, 1, 0.5, 7]}, False, "5 values at most, got 6"),
        ({"data": []}, False, "no value for text, which has no default"),
        ({"seed": 3}, True, "no value for text, which has no default"),
        ({"text": "a cat", "steps": 50}, True, "no parameter named 'steps'"),
    ],
)
def test_rest_calls_that_cannot_be_answered_are_refused_naming_what_is_wrong(app_server, body, named, message):
    status, event, data = rest_call(app_server[0], body, named)
    assert (status, event) == (422, "refused")
    assert data["detail"] == f"/generate takes [text, truncation=0.4, seed=-1, num_images=1, blend=0.5]: {message}"


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


def test_help_names_every_flag_and_its_variable(capsys):
    import app

    with pytest.raises(SystemExit) as exit_:
        app.parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in ("--mapper", "MAPPER", "--biggan", "BIGGAN", "--encoder", "ENCODER", "GRADIO_SERVER_NAME",
                 "GRADIO_SERVER_PORT"):
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
    assert (args.mapper, args.biggan, args.encoder) == (None, "biggan-deep-128", None)  # fallback.default_mapper's
    assert DEFAULT_MAPPER == "text2biggan/mapper-minilm-biggan-deep-128"
    assert (args.host, args.port) == ("0.0.0.0", 7860)
    monkeypatch.setenv("MAPPER", "./mine")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8080")
    args = app.parse_args(["--biggan", "biggan-deep-256"])
    assert (args.mapper, args.biggan, args.port) == ("./mine", "biggan-deep-256", 8080)


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
