"""Keras-style argument checking shared by layers, optimizers and callbacks.

A signature is a list of (name, default) pairs in Keras's positional order; REQUIRED marks an
argument without a default. Unknown keywords raise TypeError with the closest accepted names
("did you mean 'units'?"), like a serious library should, instead of Python's bare message.
"""
import difflib

REQUIRED = object()
# Keras arguments pitfall does not implement: accepted at their default value only.
UNSUPPORTED = object()


def did_you_mean(name, candidates):
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    listing = ", ".join(sorted(candidates))
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + f"? Accepted: {listing}"
    return f"accepted: {listing}"


def bind_arguments(where, signature, args, kwargs, aliases=None, extra=()):
    """Maps positional and keyword arguments onto `signature`; returns {name: value}.

    `extra` names keywords accepted besides the signature (base-layer keywords); `aliases` maps old
    names to a hint (e.g. {"lr": "learning_rate"}).
    """
    names = [name for name, _ in signature]
    if len(args) > len(names):
        raise TypeError(f"{where}() takes at most {len(names)} positional arguments "
                        f"({', '.join(names)}), got {len(args)}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in bound:
            raise TypeError(f"{where}() got multiple values for argument '{key}'")
        if key not in names and key not in extra:
            if aliases and key in aliases:
                raise TypeError(f"{where}() got an unexpected keyword argument '{key}'; "
                                f"did you mean '{aliases[key]}'?")
            raise TypeError(f"{where}() got an unexpected keyword argument '{key}'; "
                            + did_you_mean(key, names + list(extra)))
        bound[key] = value
    out = {}
    for name, default in signature:
        if name in bound:
            value = bound[name]
            if default is UNSUPPORTED and value is not None and value is not False:
                raise NotImplementedError(f"{where}: argument '{name}' is not supported by pitfall yet "
                                          f"(got {value!r}); leave it at its default")
            if default is not UNSUPPORTED:
                out[name] = value
        elif default is REQUIRED:
            raise TypeError(f"{where}() missing required argument '{name}'")
        elif default is not UNSUPPORTED:
            out[name] = default
    for key in extra:
        if key in bound:
            out[key] = bound[key]
    return out
