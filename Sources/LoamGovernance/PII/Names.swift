/// The shipped lists of given names and surnames (lowercased ASCII/Latin spellings, common in the US, Europe,
/// Latin America, India and China), used to recognize person names. Deliberately without words that are more
/// often ordinary words than names in running text (`ambiguousGiven` are names only when a listed surname follows).
enum Names {
    static let given: Set<String> = Set("""
        james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony donald
        steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary nicholas
        eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis
        jerry tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy christian keith roger
        terry gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel logan albert
        willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason philip louis
        mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra ashley
        kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen
        amy angela shirley anna brenda pamela emma nicole helen samantha katherine christine debra rachel carolyn janet
        catherine maria heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith
        megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn janice jean abigail
        alice judy sophia denise doris marilyn danielle beverly isabella theresa diana natalie brittany charlotte marie
        kayla alexis lori
        hans klaus jürgen jurgen stefan wolfgang andreas michael uwe dieter günter gunter horst frank sabine ursula monika
        petra renate helga ingrid birgit jan lukas leon finn felix lena mia lea anna laura julia
        jean pierre michel philippe alain nicolas françois francois laurent sébastien sebastien isabelle nathalie sylvie
        catherine françoise camille chloé chloe manon léa lea inès ines lucas hugo louis gabriel
        carlos jose luis miguel javier antonio manuel francisco pedro alejandro diego pablo sergio fernando jorge
        carmen josefa isabel dolores pilar lucia sofia valentina camila martina ana elena
        giuseppe giovanni marco luca matteo alessandro andrea lorenzo francesca giulia chiara alessia federica
        rahul amit priya sanjay anjali vikram arjun rohit neha pooja ravi suresh sunita deepak anil kavita
        wei fang jing li ming lei yan hui jun xin
        mohammed muhammad ahmed ali omar fatima aisha hassan yusuf ibrahim
        olga ivan dmitri sergei natalia tatiana svetlana alexei vladimir irina
        ana joão joao ana maria sven lars anders erik ingrid astrid nils karin
        ada ana bob mia zoe zoë liam oliver amelia ava harper evelyn ella grace
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// Given names that are also everyday words: a name only before a listed surname.
    static let ambiguousGiven: Set<String> = ["will", "may", "mark", "april", "june", "bill", "grant", "rose", "faith", "hope", "joy",
                                               "art", "rich", "dawn", "amber", "ruby", "jack", "frank", "august", "victor", "chance",
                                               "page", "sky", "summer", "lee", "li", "jean", "ada", "bob", "lea", "ana", "jan"]

    static let surnames: Set<String> = Set("""
        smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson anderson
        thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson walker young
        allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter
        roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook
        rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks
        chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster
        müller muller mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann schäfer schafer koch
        bauer richter klein wolf schröder schroder neumann schwarz zimmermann braun krüger kruger hofmann hartmann lange
        martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre michel garcia david
        bertrand roux vincent fournier morel girard andré andre lefèvre lefevre mercier dupont lambert bonnet françois
        rossi russo ferrari esposito bianchi romano colombo ricci marino greco bruno gallo conti costa giordano
        fernández fernandez gonzález gómez gomez martín díaz sánchez pérez romero navarro torres domínguez vázquez
        silva santos oliveira souza pereira costa almeida ferreira
        sharma singh kumar gupta shah mehta reddy rao iyer nair das chatterjee banerjee
        wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo lin he gao luo
        ivanov smirnov kuznetsov popov petrov sokolov
        johansson andersson karlsson nilsson eriksson larsson olsen hansen jensen nielsen
        okafor adeyemi mensah kamau
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// Column names that hold people's names.
    static func isNameColumn(_ column: String) -> Bool {
        let c = column.lowercased()
        return ["name", "first_name", "firstname", "last_name", "lastname", "surname", "full_name", "fullname", "given_name",
                "family_name", "customer", "customer_name", "patient", "patient_name", "author", "contact", "contact_name"].contains(c)
    }

    /// Column names about birth: their dates are dates of birth.
    static func isBirthColumn(_ column: String) -> Bool {
        let c = column.lowercased()
        return c == "dob" || c.contains("birth") || c.contains("born") || c == "geburtsdatum"
    }
}
