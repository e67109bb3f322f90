"""A world of works and a table of real-looking references to them, in APA, Vancouver,
IEEE, BibTeX-ish and bare-title styles, with the traps: errata and corrections of the
works cited, a retraction notice, a reply, a book review, two versions of one title, near
titles, non-ASCII authors and LaTeX. Each reference comes with the DOI it must match, or
`ambiguous`, or `not_found`. Used by the matching rule's table test and by the pasted-list
test against the fake APIs."""

from papers.discovery.match import Candidate


def w(doi, title, year, authors, venue=None, kind="article"):
    return Candidate(doi, title, year, tuple(authors), venue, kind, "test")


WORLD = [
    w("10.5555/3295222.3295349", "Attention is All you Need", 2017,
      ["Vaswani, Ashish", "Shazeer, Noam"], "Advances in Neural Information Processing Systems"),
    w("10.1109/cvpr.2016.90", "Deep Residual Learning for Image Recognition", 2016,
      ["He, Kaiming", "Zhang, Xiangyu"], "IEEE Conference on Computer Vision and Pattern Recognition"),
    w("10.1038/nature14539", "Deep learning", 2015, ["LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey"],
      "Nature"),
    w("10.1038/nature14539.err", "Correction: Deep learning", 2016, ["LeCun, Yann"], "Nature", "erratum"),
    w("10.1000/review.dl", "Review of Deep Learning by Goodfellow, Bengio and Courville", 2017,
      ["Smith, Jane"], "Genetic Programming and Evolvable Machines", "book-review"),
    w("10.48550/arxiv.1412.6980", "Adam: A Method for Stochastic Optimization", 2014,
      ["Kingma, Diederik P.", "Ba, Jimmy"], "arXiv"),
    w("10.18653/v1/n19-1423", "BERT: Pre-training of Deep Bidirectional Transformers for Language "
      "Understanding", 2019, ["Devlin, Jacob", "Chang, Ming-Wei"],
      "Proceedings of NAACL-HLT"),
    w("10.5555/2969033.2969125", "Generative Adversarial Nets", 2014, ["Goodfellow, Ian"],
      "Advances in Neural Information Processing Systems"),
    w("10.1145/3422622", "Generative adversarial networks", 2020, ["Goodfellow, Ian"],
      "Communications of the ACM"),
    w("10.1145/3065386", "ImageNet classification with deep convolutional neural networks", 2017,
      ["Krizhevsky, Alex", "Sutskever, Ilya", "Hinton, Geoffrey E."], "Communications of the ACM"),
    w("10.5555/2999134.2999257", "ImageNet Classification with Deep Convolutional Neural Networks",
      2012, ["Krizhevsky, Alex", "Sutskever, Ilya", "Hinton, Geoffrey E."],
      "Advances in Neural Information Processing Systems"),
    w("10.1038/s41586-021-03819-2", "Highly accurate protein structure prediction with AlphaFold",
      2021, ["Jumper, John", "Evans, Richard"], "Nature"),
    w("10.1038/s41586-021-03819-2.ret", "Retraction Note: Highly accurate protein structure "
      "prediction with AlphaFold", 2022, ["Jumper, John"], "Nature", "retraction"),
    w("10.1038/171737a0", "Molecular Structure of Nucleic Acids: A Structure for Deoxyribose "
      "Nucleic Acid", 1953, ["Watson, J. D.", "Crick, F. H. C."], "Nature"),
    w("10.1002/j.1538-7305.1948.tb01338.x", "A Mathematical Theory of Communication", 1948,
      ["Shannon, C. E."], "Bell System Technical Journal"),
    w("10.1162/neco.1997.9.8.1735", "Long Short-Term Memory", 1997,
      ["Hochreiter, Sepp", "Schmidhuber, Jürgen"], "Neural Computation"),
    w("10.48550/arxiv.1301.3781", "Efficient Estimation of Word Representations in Vector Space",
      2013, ["Mikolov, Tomas", "Chen, Kai"], "arXiv"),
    w("10.5555/2999792.2999959", "Distributed Representations of Words and Phrases and their "
      "Compositionality", 2013, ["Mikolov, Tomas", "Sutskever, Ilya"],
      "Advances in Neural Information Processing Systems"),
    w("10.1038/nature16961", "Mastering the game of Go with deep neural networks and tree search",
      2016, ["Silver, David", "Huang, Aja"], "Nature"),
    w("10.1038/nature24270", "Mastering the game of Go without human knowledge", 2017,
      ["Silver, David", "Schrittwieser, Julian"], "Nature"),
    w("10.1109/72.914517", "An introduction to kernel-based learning algorithms", 2001,
      ["Müller, Klaus-Robert", "Mika, Sebastian"], "IEEE Transactions on Neural Networks"),
    w("10.1109/mcse.2007.53", "IPython: A System for Interactive Scientific Computing", 2007,
      ["Pérez, Fernando", "Granger, Brian E."], "Computing in Science & Engineering"),
    w("10.1038/s41586-020-2649-2", "Array programming with NumPy", 2020,
      ["Harris, Charles R.", "Millman, K. Jarrod"], "Nature"),
    w("10.1038/s41592-019-0686-2", "SciPy 1.0: fundamental algorithms for scientific computing in "
      "Python", 2020, ["Virtanen, Pauli", "Gommers, Ralf"], "Nature Methods"),
    w("10.1038/s41592-020-0772-5", "Author Correction: SciPy 1.0: fundamental algorithms for "
      "scientific computing in Python", 2020, ["Virtanen, Pauli"], "Nature Methods", "erratum"),
    w("10.1007/978-3-319-24574-4_28", "U-Net: Convolutional Networks for Biomedical Image "
      "Segmentation", 2015, ["Ronneberger, Olaf", "Fischer, Philipp"], "MICCAI 2015"),
    w("10.1103/physrev.47.777", "Can Quantum-Mechanical Description of Physical Reality Be "
      "Considered Complete?", 1935, ["Einstein, A.", "Podolsky, B.", "Rosen, N."], "Physical Review"),
    w("10.1002/andp.19053220607", "Über einen die Erzeugung und Verwandlung des Lichtes "
      "betreffenden heuristischen Gesichtspunkt", 1905, ["Einstein, A."], "Annalen der Physik"),
    w("10.1016/j.physletb.2012.08.021", "Observation of a new boson at a mass of 125 GeV with the "
      "CMS experiment at the LHC", 2012, ["Chatrchyan, S."], "Physics Letters B"),
    w("10.1103/physrevlett.116.061102", "Observation of Gravitational Waves from a Binary Black "
      "Hole Merger", 2016, ["Abbott, B. P."], "Physical Review Letters"),
    w("10.1000/intro.a", "Introduction", 2019, ["Brown, Alice"], "Journal of Examples"),
    w("10.1000/intro.b", "Introduction", 2019, ["Green, Bob"], "Annals of Samples"),
    w("10.1126/science.1127647", "Reducing the Dimensionality of Data with Neural Networks", 2006,
      ["Hinton, G. E.", "Salakhutdinov, R. R."], "Science"),
    w("10.1000/reply.hinton", "Reply to: Reducing the Dimensionality of Data with Neural Networks",
      2007, ["Critic, Carl"], "Science", "reply"),
    w("10.1145/2939672.2939785", "XGBoost: A Scalable Tree Boosting System", 2016,
      ["Chen, Tianqi", "Guestrin, Carlos"], "Proceedings of the 22nd ACM SIGKDD"),
    w("10.1000/zhang.graphene", "Experimental observation of the quantum Hall effect and Berry's "
      "phase in graphene", 2005, ["Zhang, Yuanbo", "Tan, Yan-Wen"], "Nature"),
    w("10.1000/alpha.helix", "The structure of the $\\alpha$-helix in proteins", 1951,
      ["Pauling, Linus"], "PNAS"),
]

AMBIGUOUS, NOT_FOUND = "ambiguous", "not_found"

TABLE = [
    # APA
    ("Vaswani, A., Shazeer, N., Parmar, N., et al. (2017). Attention is all you need. In Advances "
     "in Neural Information Processing Systems (pp. 5998-6008).", "10.5555/3295222.3295349"),
    ("He, K., Zhang, X., Ren, S., & Sun, J. (2016). Deep residual learning for image recognition. "
     "In Proceedings of the IEEE CVPR (pp. 770-778).", "10.1109/cvpr.2016.90"),
    ("LeCun, Y., Bengio, Y., & Hinton, G. (2015). Deep learning. Nature, 521(7553), 436-444.",
     "10.1038/nature14539"),
    ("Kingma, D. P., & Ba, J. (2014). Adam: A method for stochastic optimization. arXiv preprint "
     "arXiv:1412.6980.", "10.48550/arxiv.1412.6980"),
    ("Harris, C. R., Millman, K. J., et al. (2020). Array programming with NumPy. Nature, 585, "
     "357-362.", "10.1038/s41586-020-2649-2"),
    ("Virtanen, P., Gommers, R., et al. (2020). SciPy 1.0: Fundamental algorithms for scientific "
     "computing in Python. Nature Methods, 17, 261-272.", "10.1038/s41592-019-0686-2"),
    ("Pérez, F., & Granger, B. E. (2007). IPython: A system for interactive scientific computing. "
     "Computing in Science & Engineering, 9(3), 21-29.", "10.1109/mcse.2007.53"),
    ("Chen, T., & Guestrin, C. (2016). XGBoost: A scalable tree boosting system. In Proceedings "
     "of KDD (pp. 785-794).", "10.1145/2939672.2939785"),
    # Vancouver
    ("Jumper J, Evans R, Pritzel A, et al. Highly accurate protein structure prediction with "
     "AlphaFold. Nature. 2021;596(7873):583-589.", "10.1038/s41586-021-03819-2"),
    ("Watson JD, Crick FH. Molecular structure of nucleic acids; a structure for deoxyribose "
     "nucleic acid. Nature. 1953;171(4356):737-8.", "10.1038/171737a0"),
    ("Goodfellow I, Pouget-Abadie J, Mirza M, et al. Generative adversarial nets. Adv Neural Inf "
     "Process Syst. 2014;27.", "10.5555/2969033.2969125"),
    ("Goodfellow I, Pouget-Abadie J, Mirza M, et al. Generative adversarial networks. Commun ACM. "
     "2020;63(11):139-144.", "10.1145/3422622"),
    ("Hochreiter S, Schmidhuber J. Long short-term memory. Neural Comput. 1997;9(8):1735-80.",
     "10.1162/neco.1997.9.8.1735"),
    ("Hinton GE, Salakhutdinov RR. Reducing the dimensionality of data with neural networks. "
     "Science. 2006;313(5786):504-7.", "10.1126/science.1127647"),
    ("Müller KR, Mika S, Rätsch G, Tsuda K, Schölkopf B. An introduction to kernel-based learning "
     "algorithms. IEEE Trans Neural Netw. 2001;12(2):181-201.", "10.1109/72.914517"),
    ("Zhang Y, Tan YW, Stormer HL, Kim P. Experimental observation of the quantum Hall effect and "
     "Berry's phase in graphene. Nature. 2005;438:201-4.", "10.1000/zhang.graphene"),
    # IEEE
    ('A. Krizhevsky, I. Sutskever, and G. E. Hinton, "ImageNet classification with deep '
     'convolutional neural networks," in Proc. NIPS, 2012, pp. 1097-1105.', "10.5555/2999134.2999257"),
    ('A. Krizhevsky, I. Sutskever, and G. E. Hinton, "ImageNet classification with deep '
     'convolutional neural networks," Commun. ACM, vol. 60, no. 6, pp. 84-90, 2017.', "10.1145/3065386"),
    ('T. Mikolov, K. Chen, G. Corrado, and J. Dean, "Efficient estimation of word representations '
     'in vector space," arXiv:1301.3781, 2013.', "10.48550/arxiv.1301.3781"),
    ('T. Mikolov, I. Sutskever, K. Chen, G. Corrado, and J. Dean, "Distributed representations of '
     'words and phrases and their compositionality," in Proc. NIPS, 2013.', "10.5555/2999792.2999959"),
    ('D. Silver et al., "Mastering the game of Go with deep neural networks and tree search," '
     'Nature, vol. 529, pp. 484-489, 2016.', "10.1038/nature16961"),
    ('D. Silver et al., "Mastering the game of Go without human knowledge," Nature, vol. 550, '
     'pp. 354-359, 2017.', "10.1038/nature24270"),
    ('C. E. Shannon, "A mathematical theory of communication," Bell Syst. Tech. J., vol. 27, no. 3, '
     'pp. 379-423, 1948.', "10.1002/j.1538-7305.1948.tb01338.x"),
    ('O. Ronneberger, P. Fischer, and T. Brox, "U-Net: Convolutional networks for biomedical image '
     'segmentation," in Proc. MICCAI, 2015, pp. 234-241.', "10.1007/978-3-319-24574-4_28"),
    ('B. P. Abbott et al., "Observation of gravitational waves from a binary black hole merger," '
     'Phys. Rev. Lett., vol. 116, 061102, 2016.', "10.1103/physrevlett.116.061102"),
    # BibTeX-ish
    ("@article{einstein1935, author={Einstein, A. and Podolsky, B. and Rosen, N.}, title={Can "
     "Quantum-Mechanical Description of Physical Reality Be Considered Complete?}, journal={Phys. "
     "Rev.}, year={1935}}", "10.1103/physrev.47.777"),
    ('author = {Einstein, Albert}, title = {{\\"U}ber einen die Erzeugung und Verwandlung des '
     "Lichtes betreffenden heuristischen Gesichtspunkt}, journal = {Annalen der Physik}, year = "
     "{1905}", "10.1002/andp.19053220607"),
    ("title={Observation of a new boson at a mass of 125 {GeV} with the {CMS} experiment at the "
     "{LHC}}, author={Chatrchyan, S. and others}, year={2012}", "10.1016/j.physletb.2012.08.021"),
    ("title = {The structure of the $\\alpha$-helix in proteins}, author = {Pauling, Linus}, "
     "year = 1951", "10.1000/alpha.helix"),
    ("Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina. BERT: "
     "Pre-training of Deep Bidirectional Transformers for Language Understanding. NAACL 2019.",
     "10.18653/v1/n19-1423"),
    # Bare titles
    ("Attention Is All You Need", "10.5555/3295222.3295349"),
    ("Deep Residual Learning for Image Recognition", "10.1109/cvpr.2016.90"),
    ("Highly accurate protein structure prediction with AlphaFold", "10.1038/s41586-021-03819-2"),
    ("Array programming with NumPy", "10.1038/s41586-020-2649-2"),
    ("XGBoost: A Scalable Tree Boosting System", "10.1145/2939672.2939785"),
    # Two versions of one title, no year or venue to tell them apart: never a guess.
    ("ImageNet classification with deep convolutional neural networks", AMBIGUOUS),
    ("Krizhevsky A, Sutskever I, Hinton GE. ImageNet classification with deep convolutional "
     "neural networks.", AMBIGUOUS),
    # One title, two unrelated works.
    ("Introduction. 2019.", AMBIGUOUS),
    # The erratum and the notices are never what an ordinary reference means.
    ("Author Correction: SciPy 1.0: fundamental algorithms for scientific computing in Python. "
     "Nat Methods. 2020.", "10.1038/s41592-020-0772-5"),
    # Not in the world: nothing close enough is a match.
    ("Smith J, Doe A. A study of nothing in particular. J Irreproducible Results. 2003;12:1-5.",
     NOT_FOUND),
    ("Hochreiter S. Untersuchungen zu dynamischen neuronalen Netzen. Diploma thesis, TU Munich; "
     "1991.", NOT_FOUND),
    ("Bengio Y, Courville A, Vincent P. Representation learning: a review and new perspectives. "
     "IEEE TPAMI. 2013;35(8):1798-828.", NOT_FOUND),
    ("LeCun Y, Bottou L, Bengio Y, Haffner P. Gradient-based learning applied to document "
     "recognition. Proc IEEE. 1998;86(11):2278-324.", NOT_FOUND),
]


def populate(fake):
    """The world's works in the fake APIs (`support.fakeapis.FakeScholar`); every other
    article has an open PDF. Returns DOI -> that PDF's bytes."""
    bodies = {}
    for k, c in enumerate(WORLD):
        pdf = None
        if k % 2 == 0 and c.type == "article":
            pdf, bodies[c.doi] = fake.pdf(f"w{k}.pdf", k)
        fake.add(doi=c.doi, title=c.title, year=c.year, authors=c.authors, venue=c.venue or "",
                 type=c.type or "article", openalex_pdf=pdf)
    return bodies
