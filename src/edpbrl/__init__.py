"""ED-PBRL: personalise generative models from few preference answers by optimal experimental design.

Public API: :class:`Personalizer` (the ask/tell loop), :class:`Vocabulary`, :func:`load_embedder`,
:func:`solve_design` with :class:`PromptMDP` / :class:`TabularMDP`, :func:`fit_mle`, :class:`LinearUser`.
"""

from .choice import confidence_ellipsoid, fisher_information, fit_mle, log_likelihood, probabilities
from .design.solvers import Certificate, Design, frank_wolfe, solve_design
from .embed import load_embedder
from .errors import EdpbrlError
from .mdp import PromptMDP, TabularMDP
from .personalizer import Personalizer, Query
from .users import LinearUser
from .version import __version__
from .vocab import Vocabulary

__all__ = [
    "__version__",
    "Certificate",
    "Design",
    "EdpbrlError",
    "LinearUser",
    "Personalizer",
    "PromptMDP",
    "Query",
    "TabularMDP",
    "Vocabulary",
    "confidence_ellipsoid",
    "fisher_information",
    "fit_mle",
    "frank_wolfe",
    "load_embedder",
    "log_likelihood",
    "probabilities",
    "solve_design",
]
