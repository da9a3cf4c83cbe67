"""fmnist.quiet_tf: TensorFlow's start-up notices dropped from fd 2, anything else written back."""
import os

from fmnist import quiet_tf


def test_notices_are_dropped_and_other_lines_kept(capfd):
    with quiet_tf.notices_dropped():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                    b"I0000 00:00:1796185325.496770   10127 port.cc:153] oneDNN custom operations are on.\n"
                    b"E0000 00:00:1796185348.639670   11139 cuda_platform.cc:52] failed call to cuInit\n"
                    b"To enable the following instructions: AVX2 FMA, rebuild TensorFlow\n"
                    b"ImportError: libcudnn.so.9: cannot open shared object file\n")
    assert capfd.readouterr().err == "ImportError: libcudnn.so.9: cannot open shared object file\n"


def test_fd_2_is_restored_even_when_the_body_raises(capfd):
    try:
        with quiet_tf.notices_dropped():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
