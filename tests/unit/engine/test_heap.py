import gc

from agentload.engine.heap import frozen_heap


def test_objects_made_before_a_run_are_out_of_the_collectors_view_during_it() -> None:
    before = gc.get_freeze_count()
    keep = [object() for _ in range(10)]
    with frozen_heap():
        assert gc.get_freeze_count() > before  # a full collection no longer walks them
    assert gc.get_freeze_count() == 0  # collectable again after the run
    assert keep
