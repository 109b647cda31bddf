"""Localnet dev accounts.

!!! TEST-ONLY MNEMONICS — PUBLIC, DO NOT USE ON ANY REAL NETWORK !!!
They were derived deterministically from sha256("fedchain localnet TEST ONLY <name>") so that
every localnet has the same well-known accounts. Any funds sent to them anywhere else are lost.
"""

TEST_ONLY_MNEMONICS: dict[str, str] = {
    "validator0": (
        "priority defy course bounce buzz crime argue mail curious moral fever above rug aisle blouse island advice vintage sniff inflict child share plunge today"
    ),
    "validator1": (
        "remember bulk news future neither fire upon unlock assist salute detect donor offer access clever marble festival rifle mechanic wine tackle typical remain bike"
    ),
    "validator2": (
        "leopard metal extra hunt foot bachelor evolve blouse message cost prosper mix record mosquito margin coast pause horror govern bonus dress rose change stumble"
    ),
    "validator3": (
        "destroy mean patch album fancy wrist silver valve soon wrestle fold digital achieve accident tourist circle minute answer casino way hammer crowd debris enjoy"
    ),
    "organization": (
        "floor party settle color bone sport armed mystery inquiry mention issue ranch anxiety seek snow still crumble miss matrix ethics hazard husband ahead enact"
    ),
    "keeper": (
        "surface pulp ivory decline initial wrong relax school absorb exist seek expand stand sibling pass guitar field wide six mammal student icon liquid fiscal"
    ),
    "treasury": (
        "property kitten gasp torch quantum business notice diagram effort refuse nerve error mad lazy model labor cancel sense core exercise business beauty cluster pond"
    ),
    "trainer1": (
        "salt pony snow treat another pigeon occur pen truly response major chronic arrive blouse zebra almost ten spread magnet response embark siren galaxy come"
    ),
    "trainer2": (
        "private faith curious feed audit wrist flush exchange long fitness search exist pig inject genre liar best art vibrant give neglect dawn ginger divorce"
    ),
    "trainer3": (
        "bench treat fit install magnet giggle coach winner segment rug vicious cruise cheap winter tornado dynamic voyage assault picture parent vibrant year blast novel"
    ),
    "trainer4": (
        "deer stone anger page canvas brain tell vehicle canoe world whisper guilt try retreat brisk steel aunt powder garden brick outside invite slam earn"
    ),
    "trainer5": (
        "goat country now series slice fan spin coach toss interest sand spatial lyrics notable dolphin scene dress join snow dream estate era champion enforce"
    ),
    "trainer6": (
        "sunset gesture reward two fuel bracket cereal toe clutch type alter protect family base pledge gossip amazing mesh sugar method parrot misery draw list"
    ),
    "trainer7": (
        "lawn file spy cruel snack ripple reveal favorite piece sheriff motion movie model tiger eyebrow pig october coast trumpet prevent exclude tent almost bone"
    ),
    "trainer8": (
        "supply rain spoon steel urge soon night sign silent enemy desert smile sense bulk demand lock frost orbit mechanic donkey brown genre main fox"
    ),
    "trainer9": (
        "bring music muffin field setup smart rebel card mesh quantum fork club author lobster spirit lesson bitter naive differ fatal next jacket peasant school"
    ),
    "trainer10": (
        "genius learn tonight manage fancy bless company such like various much surge pink jeans echo thumb nephew analyst embody melt artefact index detect never"
    ),
}
